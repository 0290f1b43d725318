from django.conf import settings


def campaign(request):
    return {
        "campaign_name": settings.CASEVOTE_CAMPAIGN_NAME,
        "account_name": settings.CASEVOTE_OFFICIAL_ACCOUNT_NAME,
        "account_id": settings.CASEVOTE_OFFICIAL_ACCOUNT_ID,
    }
