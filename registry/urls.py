from django.urls import path

from registry import views

app_name = "registry"
urlpatterns = [
    path("files/<int:file_id>/download", views.file_download, name="file-download"),
    path("versions/<str:kind>/<int:version_id>/archive", views.version_archive,
         name="version-archive"),
    path("uploads/parts/<str:token>", views.upload_part, name="upload-part"),
]
