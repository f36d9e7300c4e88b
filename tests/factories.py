import factory
from django.utils import timezone

from main.models import User
from publisher.authors import make_author
from publisher.models import Post, ReportPreferences

PASSWORD = "a-long-test-password-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])

    @factory.post_generation
    def reports(obj, create, extracted, **kwargs):
        """Report preferences other than the defaults: UserFactory(reports__frequency="weekly", reports__hour=9)."""
        if create and kwargs:
            ReportPreferences.objects.filter(pk=obj.pk).update(**kwargs)


class AuthorFactory(UserFactory):
    """A verified author, as verifying the email address makes one."""

    is_verified = True
    verified_at = factory.LazyFunction(timezone.now)
    verification_sent_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def author(obj, create, extracted, **kwargs):
        if create:
            make_author(obj)


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post

    author = factory.SubFactory(AuthorFactory)
    title = factory.Sequence(lambda n: f"Post number {n}")
    slug = factory.Sequence(lambda n: f"post-number-{n}")
    content = "Some *Markdown* content.\n\nA second paragraph."
    status = Post.Status.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)


class DraftFactory(PostFactory):
    status = Post.Status.DRAFT
    published_at = None
