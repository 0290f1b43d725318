"""manage.py add_totp_device: give a staff account its authenticator (TOTP) device from
the server, and print the QR code to scan.

    manage.py add_totp_device admin                # the first superuser, before 2FA is on
    manage.py add_totp_device zhang --replace      # a lost or changed phone

This is how the first superuser gets a device before CASEVOTE_STAFF_2FA is turned on;
later devices can be added the same way or in the admin (TOTP devices → add, then the
device's "qrcode" link). An account that already has a device is refused without
--replace, so running it twice never leaves two devices behind.
"""

import io
from base64 import b32encode

import qrcode
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from signin.devices import devices_of, register_device


class Command(BaseCommand):
    help = "Register a TOTP device for a staff account and print its QR code."

    def add_arguments(self, parser):
        parser.add_argument("username", help="the staff account, e.g. admin")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="replace the account's devices (a lost or changed phone): old codes stop working",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check and report, change nothing"
        )

    def handle(self, *args, username: str, replace: bool, dry_run: bool, **options):
        User = get_user_model()
        try:
            user = User.objects.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(f"没有用户名为 {username!r} 的账号。") from None
        if not user.is_staff:
            raise CommandError(f"{username!r} 不是职员账号，不能登录管理后台。")
        existing = devices_of(user)
        if existing and not replace:
            raise CommandError(
                f"{username!r} 已经登记了手机验证器，没有改动。换手机或手机丢失时加 --replace："
                "旧手机上的动态口令随即失效。"
            )
        if dry_run:
            action = "更换" if existing else "登记"
            self.stdout.write(f"将为 {username!r} {action}手机验证器（试运行，没有改动）。")
            return

        device = register_device(user, replace=replace)
        self.stdout.write(self.style.SUCCESS(f"已为 {username!r} 登记手机验证器。"))
        self.stdout.write(
            "请用手机验证器（如腾讯身份验证器、Google Authenticator）扫描下面的二维码，"
            "扫描后清屏：它就是这个账号的第二道锁。"
        )
        # Light modules drawn as blocks: a dark terminal shows the code the usual way round.
        drawing = io.StringIO()
        code = qrcode.QRCode(border=2)
        code.add_data(device.config_url)
        code.print_ascii(out=drawing, invert=True)
        self.stdout.write(drawing.getvalue())
        secret = b32encode(device.bin_key).decode()
        grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        self.stdout.write(f"无法扫描时，在验证器中选“输入密钥”（基于时间）：{grouped}")
        self.stdout.write(f"设置链接：{device.config_url}")
