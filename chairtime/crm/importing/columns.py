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

# History rows name their patient by the ID the patients file gave them (same system).
_PATIENT_REFERENCE = Column("patient_external_id", _("Patient's ID in the old system"), True, (
    "patient external id", "patient id", "patient", "patient number", "patient code",
    "mã bệnh nhân", "mã bn", "bệnh nhân", "mã khách hàng", "mã kh", "số hồ sơ",
    "患者编号", "患者id", "病历号", "客户编号", "患者",
    "id paciente", "paciente", "número de paciente", "numero de historia", "historia",
))  # fmt: skip
_BRANCH = Column("branch", _("Branch"), False, (
    "branch", "clinic", "chi nhánh", "phòng khám", "cơ sở", "分店", "门店", "诊所",
    "sucursal", "clínica", "sede",
))  # fmt: skip

VISIT_COLUMNS: tuple[Column, ...] = (
    Column("external_id", _("Visit ID in the old system"), True, (
        "external id", "visit id", "id", "visit number", "record id", "code",
        "mã lượt khám", "mã khám", "mã lần khám", "mã", "就诊编号", "就诊id", "编号",
        "id visita", "número de visita", "código",
    )),
    _PATIENT_REFERENCE,
    Column("date", _("Visit date"), True, (
        "date", "visit date", "visited on", "date of visit", "ngày khám", "ngày", "ngày điều trị",
        "就诊日期", "日期", "fecha", "fecha de visita", "fecha de la visita",
    )),
    _BRANCH,
    Column("doctor", _("Doctor"), False, (
        "doctor", "dentist", "treated by", "bác sĩ", "bác sĩ điều trị", "医生", "主治医生",
        "médico", "odontólogo", "dentista",
    )),
    Column("description", _("What was done"), False, (
        "description", "treatment", "procedure", "service", "notes", "nội dung", "điều trị",
        "dịch vụ", "ghi chú", "治疗", "项目", "治疗内容", "备注", "descripción", "tratamiento",
        "servicio", "notas",
    )),
    Column("amount", _("Amount"), False, (
        "amount", "total", "fee", "price", "số tiền", "thành tiền", "tổng tiền", "金额", "费用",
        "总额", "importe", "monto", "precio",
    )),
)  # fmt: skip

PAYMENT_COLUMNS: tuple[Column, ...] = (
    Column("external_id", _("Payment ID in the old system"), True, (
        "external id", "payment id", "id", "receipt", "receipt number", "transaction id",
        "code", "mã thanh toán", "mã phiếu thu", "số phiếu thu", "mã", "付款编号", "收据号",
        "编号", "id pago", "número de recibo", "recibo", "código",
    )),
    _PATIENT_REFERENCE,
    Column("date", _("Payment date"), True, (
        "date", "payment date", "paid on", "date paid", "ngày thanh toán", "ngày thu", "ngày",
        "付款日期", "收款日期", "日期", "fecha", "fecha de pago",
    )),
    Column("amount", _("Amount"), True, (
        "amount", "amount paid", "paid", "total", "số tiền", "số tiền thu", "thành tiền",
        "金额", "付款金额", "实收", "importe", "monto", "pagado",
    )),
    Column("method", _("Method"), False, (
        "method", "payment method", "paid by", "hình thức", "hình thức thanh toán",
        "phương thức", "付款方式", "支付方式", "método", "forma de pago", "método de pago",
    )),
    Column("reference", _("Reference"), False, (
        "reference", "ref", "note", "notes", "tham chiếu", "ghi chú", "参考号", "备注",
        "referencia", "nota",
    )),
    _BRANCH,
)  # fmt: skip

COLUMNS = {
    ImportKind.PATIENTS.value: PATIENT_COLUMNS,
    ImportKind.VISITS.value: VISIT_COLUMNS,
    ImportKind.PAYMENTS.value: PAYMENT_COLUMNS,
}


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
