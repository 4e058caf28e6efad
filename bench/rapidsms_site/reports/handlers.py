from rapidsms.contrib.handlers.handlers.keyword import KeywordHandler

from .models import Report

KEYWORDS = ("HH", "REG", "V", "PREG", "ANC", "DANGER", "BIRTH", "PNC", "FP")


class ReportHandler(KeywordHandler):
    """Every report keyword of the pack: save the report and thank the sender."""

    keyword = "|".join(KEYWORDS)

    def help(self):
        self.respond("Send the keyword and the report, for example: V 10003")

    def handle(self, text):
        keyword = self.msg.text.split(None, 1)[0].upper()
        report = Report.objects.create(identity=self.msg.connection.identity, keyword=keyword, text=text)
        self.respond(f"Thank you, report {report.pk} received.")
