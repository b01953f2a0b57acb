# ruff: noqa: RUF001 - Chinese texts use full-width punctuation, as Chinese is written
"""The templates and rules every organisation starts with (made the first time they are
needed), written as a clinic in each country would write them.

Texts are data, not interface strings: each language's text is written in that language
here (they are not in the translation catalogues), and each organisation edits its own
copies. SMS and e-mail exist in all four languages; Zalo in Vietnamese and English, WeChat
in Chinese and English (their provider templates carry fewer variables). Marketing texts
say how to stop, in words the inbox recognises (replies.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

from chairtime.messaging.choices import OffsetUnit, RuleKind, TemplateCode
from chairtime.patients.choices import ContactChannel

T = TemplateCode


@dataclass(frozen=True)
class Text:
    subject: str
    sms: str
    chat: str
    email: str = ""  # empty: the SMS text

    def body(self, channel: str) -> str:
        if channel in (ContactChannel.ZALO, ContactChannel.WECHAT):
            return self.chat
        if channel == ContactChannel.EMAIL:
            return self.email or self.sms
        return self.sms


TEXTS: dict[str, dict[str, Text]] = {
    T.APPOINTMENT_REMINDER: {
        "en": Text(
            "Your appointment at {branch_name}",
            "Hi {patient_name}, this is a reminder of your appointment at {branch_name} on "
            "{appointment_time} with {doctor_name}. Reply C to confirm, or call {branch_phone} "
            "to change it.",
            "Hi {patient_name}, {branch_name} reminds you of your appointment on "
            "{appointment_time}. Reply C to confirm.",
            "Hi {patient_name},\n\nThis is a reminder of your appointment at {branch_name} on "
            "{appointment_time} with {doctor_name}.\n\nConfirm it here: {confirm_link}\n\n"
            "Need to change it? Open the same link or call us on {branch_phone}.",
        ),
        "vi": Text(
            "Lịch hẹn của bạn tại {branch_name}",
            "Chào {patient_name}, {branch_name} xin nhắc lịch hẹn của bạn vào {appointment_time} "
            "với bác sĩ {doctor_name}. Trả lời C để xác nhận hoặc gọi {branch_phone} nếu cần đổi "
            "lịch.",
            "Chào {patient_name}, {branch_name} xin nhắc lịch hẹn của bạn vào {appointment_time}. "
            "Trả lời C để xác nhận.",
            "Chào {patient_name},\n\n{branch_name} xin nhắc lịch hẹn của bạn vào {appointment_time} "
            "với bác sĩ {doctor_name}.\n\nXác nhận tại đây: {confirm_link}\n\nCần đổi lịch? Mở "
            "liên kết trên hoặc gọi {branch_phone}.",
        ),
        "zh-hans": Text(
            "您在{branch_name}的预约",
            "{patient_name}您好，提醒您于{appointment_time}在{branch_name}就诊（{doctor_name}医生）。"
            "回复“确认”即可确认预约，如需改期请致电{branch_phone}。",
            "{patient_name}您好，{branch_name}提醒您于{appointment_time}就诊。回复“确认”即可确认预约。",
            "{patient_name}您好：\n\n提醒您于{appointment_time}在{branch_name}就诊（{doctor_name}医生）。"
            "\n\n请点击确认：{confirm_link}\n\n如需改期，请打开上述链接或致电{branch_phone}。",
        ),
        "es": Text(
            "Su cita en {branch_name}",
            "Hola {patient_name}: le recordamos su cita en {branch_name} el {appointment_time} "
            "con {doctor_name}. Responda C para confirmarla o llame al {branch_phone} para "
            "cambiarla.",
            "Hola {patient_name}: {branch_name} le recuerda su cita del {appointment_time}. "
            "Responda C para confirmarla.",
            "Hola {patient_name}:\n\nLe recordamos su cita en {branch_name} el {appointment_time} "
            "con {doctor_name}.\n\nConfírmela aquí: {confirm_link}\n\n¿Necesita cambiarla? Abra "
            "el mismo enlace o llámenos al {branch_phone}.",
        ),
    },
    T.APPOINTMENT_CONFIRMATION_REQUEST: {
        "en": Text(
            "Please confirm your appointment at {branch_name}",
            "Hi {patient_name}, please confirm your appointment at {branch_name} on "
            "{appointment_time}: {confirm_link} (or reply C). Need to change it? Open the link "
            "or call {branch_phone}.",
            "Hi {patient_name}, please confirm your appointment at {branch_name} on "
            "{appointment_time}: {confirm_link}",
        ),
        "vi": Text(
            "Vui lòng xác nhận lịch hẹn tại {branch_name}",
            "Chào {patient_name}, vui lòng xác nhận lịch hẹn tại {branch_name} vào "
            "{appointment_time}: {confirm_link} (hoặc trả lời C). Cần đổi lịch? Mở liên kết "
            "hoặc gọi {branch_phone}.",
            "Chào {patient_name}, vui lòng xác nhận lịch hẹn tại {branch_name} vào "
            "{appointment_time}: {confirm_link}",
        ),
        "zh-hans": Text(
            "请确认您在{branch_name}的预约",
            "{patient_name}您好，请确认您于{appointment_time}在{branch_name}的预约：{confirm_link}"
            "（或回复“确认”）。如需改期，请打开链接或致电{branch_phone}。",
            "{patient_name}您好，请确认您于{appointment_time}在{branch_name}的预约。",
        ),
        "es": Text(
            "Confirme su cita en {branch_name}",
            "Hola {patient_name}: confirme su cita en {branch_name} el {appointment_time} aquí: "
            "{confirm_link} (o responda C). ¿Necesita cambiarla? Abra el enlace o llame al "
            "{branch_phone}.",
            "Hola {patient_name}: confirme su cita en {branch_name} el {appointment_time}: "
            "{confirm_link}",
        ),
    },
    T.POST_VISIT_INSTRUCTIONS: {
        "en": Text(
            "After your visit to {branch_name}",
            "Hi {patient_name}, thank you for visiting {branch_name} today. After your "
            "{procedure_name}, do not eat for an hour, avoid very hot or cold drinks today and "
            "brush gently. Pain, swelling or bleeding? Call us on {branch_phone}.",
            "Hi {patient_name}, after your {procedure_name} do not eat for an hour and avoid "
            "very hot or cold drinks today. Pain or bleeding? Call {branch_phone}.",
        ),
        "vi": Text(
            "Hướng dẫn sau điều trị tại {branch_name}",
            "Chào {patient_name}, cảm ơn bạn đã đến {branch_name} hôm nay. Sau buổi "
            "{procedure_name}, bạn nên kiêng ăn trong 1 giờ, tránh đồ quá nóng hoặc quá lạnh "
            "trong hôm nay và chải răng nhẹ nhàng. Nếu đau, sưng hoặc chảy máu, hãy gọi "
            "{branch_phone}.",
            "Chào {patient_name}, sau buổi {procedure_name} bạn nên kiêng ăn 1 giờ và tránh đồ "
            "quá nóng, quá lạnh hôm nay. Nếu đau hoặc chảy máu, hãy gọi {branch_phone}.",
        ),
        "zh-hans": Text(
            "{branch_name}就诊后注意事项",
            "{patient_name}您好，感谢您今天到{branch_name}就诊。{procedure_name}后一小时内请勿进食，"
            "今天避免过冷过热的饮食，刷牙时动作轻柔。如有疼痛、肿胀或出血，请致电{branch_phone}。",
            "{patient_name}您好，{procedure_name}后一小时内请勿进食，今天避免过冷过热的饮食。"
            "如有疼痛或出血，请致电{branch_phone}。",
        ),
        "es": Text(
            "Después de su visita a {branch_name}",
            "Hola {patient_name}: gracias por visitarnos hoy en {branch_name}. Tras su "
            "{procedure_name}, no coma durante una hora, evite hoy las bebidas muy frías o "
            "calientes y cepíllese con suavidad. Si tiene dolor, hinchazón o sangrado, llame al "
            "{branch_phone}.",
            "Hola {patient_name}: tras su {procedure_name}, no coma durante una hora y evite hoy "
            "las bebidas muy frías o calientes. ¿Dolor o sangrado? Llame al {branch_phone}.",
        ),
    },
    T.TREATMENT_PLAN_SUMMARY: {
        "en": Text(
            "Your treatment plan: {plan_title}",
            "Hi {patient_name}, here is the treatment plan {doctor_name} presented to you: "
            "{plan_title}, {plan_total} in total. Questions, or ready to book? Call "
            "{branch_name} on {branch_phone}.",
            "Hi {patient_name}, your treatment plan: {plan_title}, {plan_total} in total. "
            "Questions? Call {branch_phone}.",
        ),
        "vi": Text(
            "Kế hoạch điều trị của bạn: {plan_title}",
            "Chào {patient_name}, đây là kế hoạch điều trị bác sĩ {doctor_name} đã tư vấn cho "
            "bạn: {plan_title}, tổng chi phí {plan_total}. Cần hỏi thêm hoặc muốn đặt lịch? Gọi "
            "{branch_name} theo số {branch_phone}.",
            "Chào {patient_name}, kế hoạch điều trị của bạn: {plan_title}, tổng chi phí "
            "{plan_total}. Cần hỏi thêm? Gọi {branch_phone}.",
        ),
        "zh-hans": Text(
            "您的治疗方案：{plan_title}",
            "{patient_name}您好，{doctor_name}医生为您制定的治疗方案：{plan_title}，共计"
            "{plan_total}。如有疑问或需要预约，请致电{branch_name}：{branch_phone}。",
            "{patient_name}您好，您的治疗方案：{plan_title}，共计{plan_total}。如有疑问请致电"
            "{branch_phone}。",
        ),
        "es": Text(
            "Su plan de tratamiento: {plan_title}",
            "Hola {patient_name}: este es el plan de tratamiento que le presentó {doctor_name}: "
            "{plan_title}, {plan_total} en total. ¿Dudas o quiere pedir cita? Llame a "
            "{branch_name} al {branch_phone}.",
            "Hola {patient_name}: su plan de tratamiento: {plan_title}, {plan_total} en total. "
            "¿Dudas? Llame al {branch_phone}.",
        ),
    },
    T.BIRTHDAY_GREETING: {
        "en": Text(
            "Happy birthday from {branch_name}!",
            "Happy birthday, {patient_name}! Everyone at {branch_name} wishes you a wonderful "
            "year. Our gift: {offer}. Call {branch_phone} to book. Reply STOP to opt out.",
            "Happy birthday, {patient_name}! Our gift from {branch_name}: {offer}.",
            "Happy birthday, {patient_name}!\n\nEveryone at {branch_name} wishes you a wonderful "
            "year. Our gift: {offer}.\n\nCall {branch_phone} to book.",
        ),
        "vi": Text(
            "{branch_name} chúc mừng sinh nhật bạn!",
            "Chúc mừng sinh nhật {patient_name}! {branch_name} chúc bạn tuổi mới thật nhiều sức "
            "khỏe và niềm vui. Quà tặng dành cho bạn: {offer}. Gọi {branch_phone} để đặt lịch. "
            "Trả lời TU CHOI để ngừng nhận tin.",
            "Chúc mừng sinh nhật {patient_name}! Quà tặng từ {branch_name}: {offer}.",
            "Chúc mừng sinh nhật {patient_name}!\n\n{branch_name} chúc bạn tuổi mới thật nhiều "
            "sức khỏe và niềm vui. Quà tặng dành cho bạn: {offer}.\n\nGọi {branch_phone} để đặt "
            "lịch.",
        ),
        "zh-hans": Text(
            "{branch_name}祝您生日快乐！",
            "{patient_name}，生日快乐！{branch_name}全体同仁祝您新的一岁健康快乐。生日礼物：{offer}。"
            "预约请致电{branch_phone}。回复TD退订。",
            "{patient_name}，生日快乐！{branch_name}送您：{offer}。",
            "{patient_name}，生日快乐！\n\n{branch_name}全体同仁祝您新的一岁健康快乐。生日礼物："
            "{offer}。\n\n预约请致电{branch_phone}。",
        ),
        "es": Text(
            "¡Feliz cumpleaños de parte de {branch_name}!",
            "¡Feliz cumpleaños, {patient_name}! Todo el equipo de {branch_name} le desea un año "
            "estupendo. Nuestro regalo: {offer}. Llame al {branch_phone} para pedir cita. "
            "Responda BAJA para no recibir más mensajes.",
            "¡Feliz cumpleaños, {patient_name}! Nuestro regalo de {branch_name}: {offer}.",
            "¡Feliz cumpleaños, {patient_name}!\n\nTodo el equipo de {branch_name} le desea un "
            "año estupendo. Nuestro regalo: {offer}.\n\nLlame al {branch_phone} para pedir cita.",
        ),
    },
    T.HOLIDAY_GREETING: {
        "en": Text(
            "Season's greetings from {branch_name}",
            "Season's greetings from {branch_name}, {patient_name}! Thank you for trusting us "
            "with your smile. {offer}. Call {branch_phone} to book. Reply STOP to opt out.",
            "Season's greetings, {patient_name}! {branch_name}: {offer}.",
            "Season's greetings, {patient_name}!\n\nThank you for trusting {branch_name} with "
            "your smile. {offer}.\n\nCall {branch_phone} to book.",
        ),
        "vi": Text(
            "{branch_name} chúc mừng ngày lễ",
            "{branch_name} kính chúc {patient_name} và gia đình một mùa lễ an lành, hạnh phúc! "
            "Cảm ơn bạn đã tin tưởng chúng tôi. Ưu đãi: {offer}. Gọi {branch_phone} để đặt "
            "lịch. Trả lời TU CHOI để ngừng nhận tin.",
            "{branch_name} kính chúc {patient_name} mùa lễ an lành! Ưu đãi: {offer}.",
            "{branch_name} kính chúc {patient_name} và gia đình một mùa lễ an lành, hạnh phúc!"
            "\n\nCảm ơn bạn đã tin tưởng chúng tôi. Ưu đãi: {offer}.\n\nGọi {branch_phone} để "
            "đặt lịch.",
        ),
        "zh-hans": Text(
            "{branch_name}节日问候",
            "{branch_name}祝{patient_name}及家人节日快乐、万事如意！感谢您的信任。节日优惠：{offer}。"
            "预约请致电{branch_phone}。回复TD退订。",
            "{branch_name}祝{patient_name}节日快乐！节日优惠：{offer}。",
            "{branch_name}祝{patient_name}及家人节日快乐、万事如意！\n\n感谢您的信任。节日优惠："
            "{offer}。\n\n预约请致电{branch_phone}。",
        ),
        "es": Text(
            "Felices fiestas de parte de {branch_name}",
            "¡{branch_name} le desea felices fiestas, {patient_name}! Gracias por confiar en "
            "nosotros. Oferta: {offer}. Llame al {branch_phone} para pedir cita. Responda BAJA "
            "para no recibir más mensajes.",
            "¡Felices fiestas, {patient_name}! {branch_name}: {offer}.",
            "¡Felices fiestas, {patient_name}!\n\nGracias por confiar en {branch_name}. Oferta: "
            "{offer}.\n\nLlame al {branch_phone} para pedir cita.",
        ),
    },
    T.SEGMENT_CAMPAIGN: {
        "en": Text(
            "News from {branch_name}",
            "Hi {patient_name}, news from {branch_name}: {offer} Call {branch_phone} to book. "
            "Reply STOP to opt out.",
            "Hi {patient_name}, news from {branch_name}: {offer}",
            "Hi {patient_name},\n\nNews from {branch_name}: {offer}\n\nCall {branch_phone} to "
            "book.",
        ),
        "vi": Text(
            "Thông tin từ {branch_name}",
            "Chào {patient_name}, {branch_name} gửi bạn thông tin mới: {offer} Gọi {branch_phone} "
            "để đặt lịch. Trả lời TU CHOI để ngừng nhận tin.",
            "Chào {patient_name}, {branch_name} gửi bạn thông tin mới: {offer}",
            "Chào {patient_name},\n\n{branch_name} gửi bạn thông tin mới: {offer}\n\nGọi "
            "{branch_phone} để đặt lịch.",
        ),
        "zh-hans": Text(
            "{branch_name}最新消息",
            "{patient_name}您好，{branch_name}最新消息：{offer} 预约请致电{branch_phone}。回复TD退订。",
            "{patient_name}您好，{branch_name}最新消息：{offer}",
            "{patient_name}您好：\n\n{branch_name}最新消息：{offer}\n\n预约请致电{branch_phone}。",
        ),
        "es": Text(
            "Novedades de {branch_name}",
            "Hola {patient_name}: novedades de {branch_name}: {offer} Llame al {branch_phone} "
            "para pedir cita. Responda BAJA para no recibir más mensajes.",
            "Hola {patient_name}: novedades de {branch_name}: {offer}",
            "Hola {patient_name}:\n\nNovedades de {branch_name}: {offer}\n\nLlame al "
            "{branch_phone} para pedir cita.",
        ),
    },
    T.STAFF_REPLY: {
        "en": Text("Re: your message", "{text}", "{text}"),
        "vi": Text("Trả lời tin nhắn của bạn", "{text}", "{text}"),
        "zh-hans": Text("回复您的留言", "{text}", "{text}"),
        "es": Text("Respuesta a su mensaje", "{text}", "{text}"),
    },
    # The waitlist's offers of a freed slot and "already taken" (chairtime.waitlist, ADR 13).
    T.SLOT_OFFER: {
        "en": Text(
            "A free slot at {branch_name}",
            "Hi {patient_name}, a slot for {procedure_name} opened at {branch_name} on "
            "{appointment_time}. The first to claim it gets it: {claim_link}",
            "Hi {patient_name}, {branch_name} has a free slot on {appointment_time}. The "
            "first to claim it gets it: {claim_link}",
        ),
        "vi": Text(
            "Lịch trống tại {branch_name}",
            "Chào {patient_name}, {branch_name} vừa có lịch trống cho {procedure_name} vào "
            "{appointment_time}. Ai xác nhận trước sẽ được giữ chỗ: {claim_link}",
            "Chào {patient_name}, {branch_name} vừa có lịch trống vào {appointment_time}. Ai "
            "xác nhận trước sẽ được giữ chỗ: {claim_link}",
        ),
        "zh-hans": Text(
            "{branch_name}有空档",
            "{patient_name}您好，{branch_name}在{appointment_time}有空档可做{procedure_name}。"
            "先到先得，点击预约：{claim_link}",
            "{patient_name}您好，{branch_name}在{appointment_time}有空档，先到先得：{claim_link}",
        ),
        "es": Text(
            "Hueco libre en {branch_name}",
            "Hola {patient_name}: hay un hueco para {procedure_name} en {branch_name} el "
            "{appointment_time}. Quien lo reserve primero se lo queda: {claim_link}",
            "Hola {patient_name}: {branch_name} tiene un hueco el {appointment_time}. Quien lo "
            "reserve primero se lo queda: {claim_link}",
        ),
    },
    T.SLOT_TAKEN: {
        "en": Text(
            "The slot at {branch_name} is taken",
            "Hi {patient_name}, the slot at {branch_name} on {appointment_time} has been "
            "taken. You stay on our waitlist and we will write when another opens. Questions? "
            "Call {branch_phone}.",
            "Hi {patient_name}, the slot at {branch_name} on {appointment_time} has been "
            "taken. You stay on our waitlist.",
        ),
        "vi": Text(
            "Lịch trống tại {branch_name} đã có người nhận",
            "Chào {patient_name}, lịch trống tại {branch_name} vào {appointment_time} đã có "
            "người nhận. Bạn vẫn ở trong danh sách chờ, chúng tôi sẽ báo khi có lịch khác. "
            "Cần hỗ trợ? Gọi {branch_phone}.",
            "Chào {patient_name}, lịch trống tại {branch_name} vào {appointment_time} đã có "
            "người nhận. Bạn vẫn ở trong danh sách chờ.",
        ),
        "zh-hans": Text(
            "{branch_name}的空档已被预约",
            "{patient_name}您好，{branch_name}{appointment_time}的空档已被预约。您仍在候补名单中，"
            "有新空档时我们会再通知您。如有疑问请致电{branch_phone}。",
            "{patient_name}您好，{branch_name}{appointment_time}的空档已被预约。您仍在候补名单中。",
        ),
        "es": Text(
            "El hueco de {branch_name} ya está reservado",
            "Hola {patient_name}: el hueco de {branch_name} del {appointment_time} ya está "
            "reservado. Sigue en nuestra lista de espera y le avisaremos si se libera otro. "
            "¿Dudas? Llame al {branch_phone}.",
            "Hola {patient_name}: el hueco de {branch_name} del {appointment_time} ya está "
            "reservado. Sigue en nuestra lista de espera.",
        ),
    },
}

# Which languages each channel's default templates are written in.
CHANNEL_LANGUAGES: dict[str, tuple[str, ...]] = {
    ContactChannel.SMS: ("en", "vi", "zh-hans", "es"),
    ContactChannel.EMAIL: ("en", "vi", "zh-hans", "es"),
    ContactChannel.ZALO: ("vi", "en"),
    ContactChannel.WECHAT: ("zh-hans", "en"),
}


def default_templates() -> list[tuple[str, str, str, str, str]]:
    """(code, channel, language, subject, body) of every default template."""
    rows = []
    for code, languages in TEXTS.items():
        for channel, written_in in CHANNEL_LANGUAGES.items():
            for language in written_in:
                text = languages[language]
                subject = text.subject if channel == ContactChannel.EMAIL else ""
                rows.append((code, channel, language, subject, text.body(channel)))
    return rows


# Chat apps first (a patient who gave a Zalo or WeChat account reads it), then SMS, e-mail.
DEFAULT_CHANNELS = [ContactChannel.ZALO, ContactChannel.WECHAT, ContactChannel.SMS,
                    ContactChannel.EMAIL]  # fmt: skip
SURGICAL = ["surgery", "implant", "endodontic", "periodontic"]


@dataclass(frozen=True)
class RuleDefault:
    name: str
    kind: str
    offset_value: int
    offset_unit: str
    is_enabled: bool = True
    procedure_categories: list[str] = field(default_factory=list)
    send_at: time = time(9)


# Names are data too: the organisation renames its rules; these read in English.
DEFAULT_RULES = (
    RuleDefault("Confirmation request, 2 days before", RuleKind.CONFIRMATION_REQUEST, 2,
                OffsetUnit.DAYS),
    RuleDefault("Reminder, 1 day before", RuleKind.REMINDER, 1, OffsetUnit.DAYS),
    RuleDefault("Reminder, 3 hours before", RuleKind.REMINDER, 3, OffsetUnit.HOURS),
    RuleDefault("Aftercare, 2 hours after surgical visits", RuleKind.POST_VISIT, 2,
                OffsetUnit.HOURS, procedure_categories=SURGICAL),
    RuleDefault("Plan summary, 1 hour after it is presented", RuleKind.PLAN_SUMMARY, 1,
                OffsetUnit.HOURS),
    RuleDefault("Birthday greeting", RuleKind.BIRTHDAY, 0, OffsetUnit.DAYS, is_enabled=False),
)  # fmt: skip
