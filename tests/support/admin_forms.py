"""What a browser posts to the Django admin: a new post's form (POST_FORM), and a page's form posted back
unchanged (admin_form_data)."""

from django import forms

# The management form of the post form's inline of images in the body, with none.
NO_BODY_IMAGES = {"images-TOTAL_FORMS": "0", "images-INITIAL_FORMS": "0"}
# The post form's fields, for a draft added from the admin (no cover, no image in the body).
POST_FORM = {"title": "From the admin", "slug": "", "content": "Hello *there*", "status": "draft", **NO_BODY_IMAGES}


def admin_form_data(response):
    """The form of an admin add/change page's response (and its inlines) as the browser would post it back,
    unchanged: hidden initial values included (a field with a callable default keeps one, to tell a change)."""
    data = {}

    def add_form(form):
        for name, field in form.fields.items():
            key, value = form.add_prefix(name), form[name].value()
            if field.show_hidden_initial:
                data[form.add_initial_prefix(name)] = "" if value is None else value
            if isinstance(field.widget, forms.MultiWidget):
                parts = value if isinstance(value, list) else field.widget.decompress(value)
                for i, part in enumerate(parts):
                    data[f"{key}_{i}"] = "" if part is None else part
            elif isinstance(field.widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
            else:
                data[key] = "" if value is None else value

    add_form(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        for form in formset.forms:
            add_form(form)
    return data
