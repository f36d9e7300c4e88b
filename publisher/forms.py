from django import forms
from django.contrib.auth import get_user_model


class StatsForm(forms.Form):
    """The Stats page's choices: a range, and one post (or all); a superuser may narrow it to one author."""

    days = forms.TypedChoiceField(
        choices=[(30, "Last 30 days"), (90, "Last 90 days")], coerce=int, required=False, empty_value=30
    )
    post = forms.ModelChoiceField(queryset=None, required=False, empty_label="All posts")
    author = forms.ModelChoiceField(queryset=None, required=False, empty_label="All authors")

    def __init__(self, data, *, posts, may_choose_author):
        super().__init__(data)
        self.fields["post"].queryset = posts.order_by("title")
        if may_choose_author:
            self.fields["author"].queryset = get_user_model().objects.filter(posts__in=posts).distinct()
        else:
            del self.fields["author"]

    def chosen_posts(self):
        posts = self.fields["post"].queryset
        if self.cleaned_data.get("author"):
            posts = posts.filter(author=self.cleaned_data["author"])
        if self.cleaned_data.get("post"):
            posts = posts.filter(pk=self.cleaned_data["post"].pk)
        return posts
