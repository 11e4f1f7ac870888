"""Forms of the auth blueprint (CSRF-protected by Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from engine.config import LOCALES
from engine.identity import service as identity

#: The zones of our sites first, then every other IANA zone in name order.
COMMON_TIMEZONES = ("Asia/Shanghai", "America/Chicago", "America/New_York", "Europe/Berlin",
                    "Europe/Amsterdam", "UTC")
#: How each language is named in the language select: in itself, whatever the page's language.
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


def timezone_choices() -> list[str]:
    common = [zone for zone in COMMON_TIMEZONES if zone in identity.time_zones()]
    return common + sorted(identity.time_zones() - set(common))


def language_choices() -> list[tuple[str, str]]:
    return [(code, LANGUAGE_NAMES.get(code, code)) for code in LOCALES]


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=60)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=20)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField("Repeat the new password", validators=[DataRequired()])


class PreferencesForm(FlaskForm):
    """Time zone and language; `engine.identity` refuses a value not offered (one rule for the
    pages, the admin and the CLI), so the selects do not check their choices themselves."""

    timezone = SelectField("Time zone", validate_choice=False)
    locale = SelectField("Language", validate_choice=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()
        self.locale.choices = language_choices()


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for buttons such as log out."""
