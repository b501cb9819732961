"""The model/dataset table: each kind names its own classes, columns and permissions."""

from registry import catalog
from registry.models import (
    Dataset,
    DatasetUserObjectPermission,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    RegisteredModelGroupObjectPermission,
)


def test_kind_of_finds_the_kind_from_entries_versions_and_their_classes():
    assert catalog.kind_of(RegisteredModel) is catalog.MODEL
    assert catalog.kind_of(ModelVersion) is catalog.MODEL
    assert catalog.kind_of(DatasetVersion(version="1.0.0")) is catalog.DATASET
    assert catalog.kind_of(Dataset(name="d")) is catalog.DATASET


def test_each_kind_names_the_columns_that_link_its_rows():
    for kind in catalog.KINDS:
        version_parent = kind.version_class._meta.get_field(kind.parent_field)
        assert version_parent.related_model is kind.entry_class
        assert kind.version_class.files.field.name == kind.version_field
    assert catalog.MODEL.group_permissions is RegisteredModelGroupObjectPermission
    assert catalog.DATASET.user_permissions is DatasetUserObjectPermission


def test_codenames_cover_the_levels_above_a_check_and_below_a_grant():
    assert catalog.MODEL.access_codenames("change") == ["change_registeredmodel",
                                                      "manage_registeredmodel"]
    assert catalog.DATASET.grant_codenames("change") == ["view_dataset", "change_dataset"]


def test_lookups_by_name_and_graphql_type_name():
    assert catalog.BY_NAME == {"model": catalog.MODEL, "dataset": catalog.DATASET}
    assert catalog.BY_ENTRY_TYPE_NAME == {"RegisteredModel": catalog.MODEL,
                                          "Dataset": catalog.DATASET}
    assert catalog.BY_VERSION_TYPE_NAME == {"ModelVersion": catalog.MODEL,
                                            "DatasetVersion": catalog.DATASET}
