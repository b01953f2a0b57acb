"""Pages of the patient CRM, under /patients/ beside the patient record's own."""

from chairtime.crm.duplicates import urls as duplicates
from chairtime.crm.feedback import urls as feedback
from chairtime.crm.importing import urls as importing
from chairtime.crm.profiles import urls as profiles
from chairtime.crm.referrals import urls as referrals
from chairtime.crm.segments import urls as segments
from chairtime.crm.timeline import urls as timeline

app_name = "crm"
urlpatterns = [
    *profiles.urlpatterns,
    *segments.urlpatterns,
    *importing.urlpatterns,
    *feedback.urlpatterns,
    *referrals.urlpatterns,
    *timeline.urlpatterns,
    *duplicates.urlpatterns,
]
