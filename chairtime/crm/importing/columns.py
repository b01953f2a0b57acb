"""The columns an import understands, and the header names that propose them.

A clinic's old system writes its headers in its own language: "Họ", "姓", "Apellidos" and
"Last name" all mean `family_name`. Headers are folded (case, accents, spaces and
punctuation ignored) before they are compared, so "Ngày sinh" and "ngay_sinh" match.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from chairtime.core.text import fold
from chairtime.crm.choices import ImportKind


@dataclass(frozen=True)
class Column:
    field: str
    label: str | Promise
    required: bool
    headers: tuple[str, ...]  # English, Vietnamese, Chinese, Spanish


PATIENT_COLUMNS: tuple[Column, ...] = (
    Column("external_id", _("ID in the old system"), True, (
        "external id", "id", "patient id", "record id", "patient number", "code",
        "mã bệnh nhân", "mã bn", "mã", "mã khách hàng", "mã kh", "số hồ sơ",
        "患者编号", "编号", "病历号", "患者id", "客户编号",
        "id paciente", "número de paciente", "código", "numero de historia", "historia",
    )),
    Column("family_name", _("Family name"), True, (
        "family name", "last name", "surname", "họ", "姓", "姓氏", "apellidos", "apellido",
    )),
    Column("given_name", _("Given name"), False, (
        "given name", "first name", "forename", "tên", "名", "名字", "nombre", "nombres",
    )),
    Column("birth_date", _("Birth date"), False, (
        "birth date", "date of birth", "dob", "birthday", "ngày sinh", "出生日期", "生日",
        "fecha de nacimiento", "nacimiento",
    )),
    Column("sex", _("Sex"), False, ("sex", "gender", "giới tính", "性别", "sexo", "género")),
    Column("phone", _("Mobile phone"), False, (
        "phone", "mobile", "mobile phone", "phone number", "telephone", "cell",
        "điện thoại", "số điện thoại", "sđt", "di động", "手机", "电话", "手机号", "联系电话",
        "teléfono", "móvil", "celular", "teléfono móvil",
    )),
    Column("phone_alt", _("Other phone"), False, (
        "phone 2", "other phone", "second phone", "home phone", "điện thoại 2", "sđt 2",
        "电话2", "其他电话", "teléfono 2", "otro teléfono",
    )),
    Column("email", _("Email"), False, (
        "email", "e-mail", "mail", "thư điện tử", "邮箱", "电子邮件", "correo",
        "correo electrónico",
    )),
    Column("home_branch", _("Home branch"), False, (
        "branch", "home branch", "clinic", "chi nhánh", "phòng khám", "cơ sở", "分店", "门店",
        "诊所", "sucursal", "clínica", "sede",
    )),
    Column("preferred_language", _("Preferred language"), False, (
        "language", "preferred language", "ngôn ngữ", "语言", "idioma",
    )),
    Column("source_channel", _("Came through"), False, (
        "source", "channel", "source channel", "nguồn", "kênh", "来源", "渠道", "fuente",
        "canal", "origen",
    )),
    Column("tags", _("Tags"), False, ("tags", "tag", "labels", "nhãn", "thẻ", "标签", "etiquetas")),
    Column("notes", _("Notes"), False, (
        "notes", "note", "comments", "remarks", "ghi chú", "备注", "notas", "observaciones",
    )),
)  # fmt: skip

COLUMNS = {ImportKind.PATIENTS.value: PATIENT_COLUMNS}


def columns_of(kind: str) -> tuple[Column, ...]:
    return COLUMNS.get(kind, ())


def normalize_header(header: str) -> str:
    """ "Ngày sinh", "ngay_sinh" and "NGAY SINH" are one header; Chinese characters stay."""
    return "".join(ch for ch in fold(header) if ch.isalnum())


def propose_mapping(kind: str, headers: list[str]) -> dict[str, str]:
    """Our field -> the file's header, for every header whose name we recognise."""
    by_name: dict[str, str] = {}
    for header in headers:
        by_name.setdefault(normalize_header(header), header)
    mapping: dict[str, str] = {}
    for column in columns_of(kind):
        for name in (column.field, *column.headers):
            found = by_name.get(normalize_header(name))
            if found is not None and found not in mapping.values():
                mapping[column.field] = found
                break
    return mapping
