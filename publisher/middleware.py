from . import post_pages


class SendKeptPageViewsEarly:
    """Sends the view of a kept post page to Redis as the request comes in; post_detail reads the answer after the
    rest of the middleware and the URL resolver have run, by when Redis has usually given it, so that the worker
    does not sleep on the round trip (see publisher/post_pages.py). Placed after the middleware that may answer a
    request itself (redirects, refused hosts): a view sent here is one that reaches the page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.sent_view = sent = post_pages.send_view_early(request)
        try:
            return self.get_response(request)
        finally:
            if sent is not None:
                sent.abandon()
