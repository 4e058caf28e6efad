from rapidsms.backends.base import BackendBase


class DroppingBackend(BackendBase):
    """Takes each reply and sends nothing: the benchmark measures receiving, not sending."""

    def send(self, id_, text, identities, context=None):
        return True
