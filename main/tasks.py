from celery import shared_task

from quick_publisher.queueing import EMAIL_RETRY, queue_after_commit

from . import selectors, services


@shared_task(**EMAIL_RETRY)
def send_verification_email(user_id, resend=False):
    return {"user_id": user_id, "outcome": services.send_verification_email(user_id=user_id, resend=resend)}


def queue_verification_email(user_id, *, resend=False):
    """The one way a request, a signal or an admin action queues the verification email: after commit."""
    queue_after_commit(send_verification_email, user_id, resend=resend)


@shared_task(**EMAIL_RETRY)
def send_password_reset_email(user_id):
    return {"user_id": user_id, "outcome": services.send_password_reset_email(user_id=user_id)}


@shared_task
def resend_missing_verifications():
    user_ids = selectors.users_missing_verification_email()
    for user_id in user_ids:
        send_verification_email.delay(user_id)
    return {"queued": len(user_ids)}
