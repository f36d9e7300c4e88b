from celery import shared_task

from . import selectors, services
from .queueing import EMAIL_RETRY


@shared_task(**EMAIL_RETRY)
def send_verification_email(user_id, resend=False):
    return {"user_id": user_id, "outcome": services.send_verification_email(user_id=user_id, resend=resend)}


@shared_task(**EMAIL_RETRY)
def send_password_reset_email(user_id):
    return {"user_id": user_id, "outcome": services.send_password_reset_email(user_id=user_id)}


@shared_task
def resend_missing_verifications():
    user_ids = selectors.users_missing_verification_email()
    for user_id in user_ids:
        send_verification_email.delay(user_id)
    return {"queued": len(user_ids)}
