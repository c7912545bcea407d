import factory
from django.utils.text import slugify

from deals.models import Membership, Organization, User

PASSWORD = "correct-horse-battery"  # noqa: S105


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))
    time_zone = "UTC"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.SELLER
