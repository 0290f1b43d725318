from django.conf import settings

from cases.sharing import public_origin


def campaign(request):
    return {
        "campaign_name": settings.CASEVOTE_CAMPAIGN_NAME,
        "account_name": settings.CASEVOTE_OFFICIAL_ACCOUNT_NAME,
        "account_id": settings.CASEVOTE_OFFICIAL_ACCOUNT_ID,
        "public_origin": public_origin(),  # for share cards: never the request's Host
    }
