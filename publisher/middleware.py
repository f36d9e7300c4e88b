from . import post_pages


class KeptPostPages:
    """Serves the post pages each process keeps for readers without cookies (publisher/post_pages.py) before the
    middleware below it, the URL resolver and the view, as Django's cache middleware serves cached pages.
    Placed below the middleware that may answer a request itself (redirects, refused hosts) and below every
    middleware that adds to a response what a reader without cookies gets (security headers, CSP, X-Frame-Options):
    a kept page is answered as the view would answer it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = post_pages.serve_kept_page(request)
        if response is None:
            response = self.get_response(request)
        return response
