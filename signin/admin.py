from django.contrib.admin import AdminSite

from signin.devices import two_factor_required
from signin.forms import StaffAuthenticationForm


class StaffAdminSite(AdminSite):
    """The admin (`admin.site`). With `CASEVOTE_STAFF_2FA` on, only a session signed in
    with a device's code gets in: one signed in with a password alone, from before the
    setting was turned on, is sent back to the sign-in page."""

    login_form = StaffAuthenticationForm
    login_template = "admin/signin/login.html"

    def has_permission(self, request) -> bool:
        if not super().has_permission(request):
            return False
        return not two_factor_required() or request.user.is_verified()
