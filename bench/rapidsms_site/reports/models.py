from django.db import models


class Report(models.Model):
    identity = models.CharField(max_length=100)
    keyword = models.CharField(max_length=20)
    text = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)
