"""`{% load fraud_notice %}{% fraud_notice %}`: the committee's 防骗提示 on any page.

A template tag, so the campaign page (in `cases`) shows it without `cases` importing
`reports`. The notice is content: saving one renews the page cache's token.
"""

from django import template

from reports.models import FraudNotice

register = template.Library()


@register.inclusion_tag("reports/_fraud_notice.html")
def fraud_notice(link: bool = True):
    """`link=False` on the report form itself."""
    return {"notice": FraudNotice.objects.first(), "link": link}
