"""`{% load fraud_notice %}{% fraud_notice %}`: the committee's 防骗提示 on any page.

A template tag, so the campaign page (in `cases`) shows it without `cases` importing
`reports`. The notice is content: saving one renews the page cache's token.
"""

from django import template

from reports.models import FraudNotice

register = template.Library()


@register.inclusion_tag("reports/_fraud_notice.html")
def fraud_notice(heading_level: int = 2):
    return {"notice": FraudNotice.objects.first(), "heading_level": heading_level}
