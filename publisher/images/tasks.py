from celery import shared_task

from . import files, renditions


# acks_late and reject_on_worker_lost (the settings): a worker that dies midway gives the task back, and the next
# run makes the renditions again, under the same names.
@shared_task
def make_renditions(image_id):
    made = renditions.make_renditions(image_id)
    return {"image": image_id, "renditions": None if made is None else len(made)}


@shared_task
def sweep_images():
    return {"orphans_deleted": files.sweep_orphan_files(), "renditions_queued": queue_missing_renditions()}


def queue_missing_renditions():
    """Images whose renditions were never made (their task was lost with a broker that was down when it was
    queued) are queued again; their pages serve the original meanwhile."""
    image_ids = files.images_without_renditions()
    for image_id in image_ids:
        make_renditions.delay(image_id)
    return len(image_ids)
