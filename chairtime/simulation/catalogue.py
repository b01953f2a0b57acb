"""The reference procedure catalogue the simulator gives every organisation.

Prices are reference prices in US dollars; each branch's price is converted with its
country's factor and rounded the way clinics there round. Names in all four languages.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    names: dict[str, str]
    category: str
    tier: str
    minutes: int
    reference_price: Decimal
    cost_share: Decimal  # standard cost as a share of price
    needs_lab_case: bool = False
    needs_assistant: bool = False
    recall_months: int | None = None
    equipment: tuple[str, ...] = ()  # codes of EQUIPMENT it needs


@dataclass(frozen=True)
class EquipmentEntry:
    code: str
    name: str
    capacity: int  # units per branch


# Every branch has these; procedures name them in `equipment`.
EQUIPMENT: tuple[EquipmentEntry, ...] = (
    EquipmentEntry("cbct", "CBCT scanner", 1),
    EquipmentEntry("implant-motor", "Implant motor", 2),
)


def _e(code: str, en: str, vi: str, zh: str, es: str, category: str, tier: str, minutes: int,
       price: str, cost: str, *, lab: bool = False, assistant: bool = False,
       recall: int | None = None, equipment: tuple[str, ...] = ()) -> CatalogueEntry:  # fmt: skip
    return CatalogueEntry(
        code=code, names={"en": en, "vi": vi, "zh-hans": zh, "es": es}, category=category,
        tier=tier, minutes=minutes, reference_price=Decimal(price), cost_share=Decimal(cost),
        needs_lab_case=lab, needs_assistant=assistant, recall_months=recall, equipment=equipment,
    )  # fmt: skip


CATALOGUE: tuple[CatalogueEntry, ...] = (
    _e("EXAM", "Examination and consultation", "Khám và tư vấn", "检查与咨询", "Revisión y consulta", "diagnostic", "experience", 20, "20", "0.10", recall=6),
    _e("XRAY-PAN", "Panoramic X-ray", "Chụp phim toàn cảnh", "全景X光片", "Radiografía panorámica", "diagnostic", "experience", 15, "40", "0.20"),
    _e("CBCT", "Cone-beam CT scan", "Chụp CT Cone Beam", "锥形束CT", "TAC dental (CBCT)", "diagnostic", "conversion", 20, "120", "0.25", equipment=("cbct",)),
    _e("SCALE", "Scaling and polishing", "Cạo vôi và đánh bóng", "洁牙抛光", "Limpieza dental", "hygiene", "experience", 45, "60", "0.15", recall=6),
    _e("FLUOR", "Fluoride varnish", "Bôi fluor", "涂氟", "Barniz de flúor", "paediatric", "experience", 15, "25", "0.10", recall=6),
    _e("SEAL", "Fissure sealant (per tooth)", "Trám bít hố rãnh", "窝沟封闭", "Sellador de fisuras", "paediatric", "conversion", 20, "35", "0.15"),
    _e("FILL-C", "Composite filling", "Trám răng composite", "树脂补牙", "Empaste de composite", "restorative", "regular", 40, "110", "0.20"),
    _e("ENDO-A", "Root canal, anterior", "Điều trị tủy răng cửa", "前牙根管治疗", "Endodoncia anterior", "endodontic", "regular", 60, "450", "0.20", assistant=True),
    _e("ENDO-M", "Root canal, molar", "Điều trị tủy răng hàm", "磨牙根管治疗", "Endodoncia molar", "endodontic", "regular", 90, "800", "0.20", assistant=True),
    _e("PERIO", "Deep cleaning (per quadrant)", "Nạo túi nha chu", "牙周刮治", "Curetaje periodontal", "periodontic", "regular", 45, "180", "0.15", recall=4),
    _e("EXT", "Simple extraction", "Nhổ răng thường", "普通拔牙", "Extracción simple", "surgery", "regular", 30, "120", "0.15"),
    _e("EXT-W", "Wisdom tooth extraction", "Nhổ răng khôn", "智齿拔除", "Extracción de muela del juicio", "surgery", "conversion", 60, "350", "0.15", assistant=True),
    _e("CROWN-Z", "Zirconia crown", "Mão sứ Zirconia", "氧化锆全瓷冠", "Corona de zirconio", "prosthetic", "flagship", 60, "1000", "0.35", lab=True, assistant=True),
    _e("CROWN-M", "Porcelain-fused-to-metal crown", "Mão sứ kim loại", "烤瓷冠", "Corona metal-porcelana", "prosthetic", "regular", 60, "600", "0.35", lab=True),
    _e("BRIDGE", "Three-unit bridge", "Cầu răng 3 đơn vị", "三单位固定桥", "Puente de tres piezas", "prosthetic", "flagship", 90, "2400", "0.35", lab=True, assistant=True),
    _e("DENTURE", "Removable denture", "Hàm tháo lắp", "活动义齿", "Prótesis removible", "prosthetic", "regular", 45, "900", "0.40", lab=True),
    _e("IMPL", "Implant placement", "Cấy ghép Implant", "种植体植入", "Colocación de implante", "implant", "flagship", 90, "2200", "0.30", assistant=True, recall=6, equipment=("implant-motor",)),
    _e("IMPL-AB", "Implant abutment and crown", "Mão sứ trên Implant", "种植基台与牙冠", "Pilar y corona sobre implante", "implant", "flagship", 60, "1200", "0.35", lab=True, assistant=True),
    _e("BONE", "Bone graft", "Ghép xương", "骨移植", "Injerto óseo", "implant", "flagship", 60, "600", "0.30", assistant=True),
    _e("ORTHO-C", "Orthodontic consultation", "Tư vấn chỉnh nha", "正畸咨询", "Consulta de ortodoncia", "orthodontic", "conversion", 30, "50", "0.10"),
    _e("ORTHO-B", "Fixed braces (start)", "Niềng răng mắc cài", "固定矫治", "Ortodoncia con brackets", "orthodontic", "flagship", 90, "3500", "0.25", assistant=True),
    _e("ORTHO-A", "Clear aligners (start)", "Niềng răng trong suốt", "隐形矫治", "Alineadores transparentes", "orthodontic", "brand", 60, "5000", "0.35", lab=True),
    _e("ORTHO-ADJ", "Orthodontic adjustment", "Tái khám chỉnh nha", "正畸复诊", "Revisión de ortodoncia", "orthodontic", "regular", 30, "60", "0.10", recall=1),
    _e("RETAIN", "Retainer", "Hàm duy trì", "保持器", "Retenedor", "orthodontic", "word_of_mouth", 30, "250", "0.30", lab=True),
    _e("WHITEN", "In-office whitening", "Tẩy trắng răng tại phòng", "诊室美白", "Blanqueamiento en clínica", "cosmetic", "conversion", 60, "350", "0.20"),
    _e("VENEER", "Porcelain veneer", "Mặt dán sứ Veneer", "瓷贴面", "Carilla de porcelana", "cosmetic", "brand", 60, "900", "0.35", lab=True, assistant=True),
    _e("SMILE", "Smile design (per arch)", "Thiết kế nụ cười", "微笑设计", "Diseño de sonrisa", "cosmetic", "brand", 120, "6000", "0.35", lab=True, assistant=True),
    _e("KID-EXAM", "Child check-up", "Khám răng trẻ em", "儿童口腔检查", "Revisión infantil", "paediatric", "word_of_mouth", 20, "20", "0.10", recall=6),
)  # fmt: skip
