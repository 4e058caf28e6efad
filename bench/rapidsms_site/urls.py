from django.urls import path
from rapidsms.backends.http.views import GenericHttpBackendView

urlpatterns = [
    # the HTTP backend's fields: identity (the sender) and text
    path("backend/http/", GenericHttpBackendView.as_view(backend_name="http")),
]
