"""The project's objects that the support modules and the conftests use: its Celery app, free_port and is_amqp.

Imported from the product code here only (besides publisher's, in redis_state), so that a product module's rename
changes one line of the support code.
"""

from quick_publisher.broker_urls import is_amqp
from quick_publisher.celery import app as celery_app
from quick_publisher.redis_server import free_port

__all__ = ["celery_app", "free_port", "is_amqp"]
