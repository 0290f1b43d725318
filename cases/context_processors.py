from django.conf import settings


def campaign(request):
    return {"campaign_name": settings.CASEVOTE_CAMPAIGN_NAME}
