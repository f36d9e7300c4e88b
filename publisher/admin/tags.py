"""The post form's tags: typed comma-separated, new ones created on save, existing ones offered as the author types
(a datalist, completed per tag by a static script: the CSP allows no inline script)."""

from django import forms
from django.utils.html import format_html, format_html_join
from taggit.forms import TagField, TagWidget
from taggit.models import Tag

MAX_TAGS_PER_POST = 20
MAX_TAG_LENGTH = Tag._meta.get_field("name").max_length


class TagInputWithSuggestions(TagWidget):
    """A text input with a datalist of every existing tag (each author sees all tags)."""

    class Media:
        js = ["publisher/tag_suggestions.js"]

    def render(self, name, value, attrs=None, renderer=None):
        datalist_id = f"{(attrs or {}).get('id') or name}-suggestions"
        attrs = {
            **(attrs or {}),
            "class": "vTextField",  # as wide as the admin's other text inputs
            "list": datalist_id,
            "autocomplete": "off",
            "data-tag-suggestions": "",
        }
        options = format_html_join("", '<option value="{}">', ((tag,) for tag in tag_names()))
        return format_html(
            '{}<datalist id="{}">{}</datalist>', super().render(name, value, attrs, renderer), datalist_id, options
        )


def tag_names():
    return Tag.objects.order_by("name").values_list("name", flat=True)


class PostTagsField(TagField):
    """taggit's field (comma-separated names, quotes for a name with a comma), with limits a tag page needs: a
    name the tags' table holds, and one that makes an address."""

    widget = TagInputWithSuggestions

    def clean(self, value):
        names = super().clean(value)
        if len(names) > MAX_TAGS_PER_POST:
            raise forms.ValidationError(f"At most {MAX_TAGS_PER_POST} tags a post ({len(names)} given).")
        for name in names:
            if len(name) > MAX_TAG_LENGTH:
                raise forms.ValidationError(f"A tag is at most {MAX_TAG_LENGTH} characters: “{name[:30]}…” is longer.")
            if not Tag().slugify(name):
                raise forms.ValidationError(f"“{name}” needs a letter or a digit to make a tag.")
        return names
