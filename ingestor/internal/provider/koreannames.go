package provider

// koreanNames holds the Korean names of common currencies. It is a
// hand-kept table on purpose: the CLDR data that Go carries
// (golang.org/x/text/currency) has symbols but no localized currency
// names, so there is no maintained source to draw them from (DESIGN.md
// §4). Spellings follow Korea Eximbank's cur_nm where it publishes the
// currency ("일본 옌", "덴마아크 크로네", "말레이지아 링기트"), so names do not change when
// ingestion fails over between providers. Anything missing falls back to
// the ISO code.
var koreanNames = map[string]string{
	"AED": "아랍에미리트 디르함",
	"ARS": "아르헨티나 페소",
	"AUD": "호주 달러",
	"BDT": "방글라데시 타카",
	"BGN": "불가리아 레프",
	"BHD": "바레인 디나르",
	"BND": "브루나이 달러",
	"BRL": "브라질 레알",
	"CAD": "캐나다 달러",
	"CHF": "스위스 프랑",
	"CLP": "칠레 페소",
	"CNH": "위안화",
	"CNY": "중국 위안",
	"COP": "콜롬비아 페소",
	"CZK": "체코 코루나",
	"DKK": "덴마아크 크로네",
	"EGP": "이집트 파운드",
	"EUR": "유로",
	"FJD": "피지 달러",
	"GBP": "영국 파운드",
	"HKD": "홍콩 달러",
	"HUF": "헝가리 포린트",
	"IDR": "인도네시아 루피아",
	"ILS": "이스라엘 셰켈",
	"INR": "인도 루피",
	"ISK": "아이슬란드 크로나",
	"JOD": "요르단 디나르",
	"JPY": "일본 옌",
	"KES": "케냐 실링",
	"KHR": "캄보디아 리엘",
	"KRW": "한국 원",
	"KWD": "쿠웨이트 디나르",
	"KZT": "카자흐스탄 텡게",
	"LAK": "라오스 킵",
	"LKR": "스리랑카 루피",
	"MMK": "미얀마 짯",
	"MNT": "몽골 투그릭",
	"MOP": "마카오 파타카",
	"MXN": "멕시코 페소",
	"MYR": "말레이지아 링기트",
	"NOK": "노르웨이 크로네",
	"NPR": "네팔 루피",
	"NZD": "뉴질랜드 달러",
	"OMR": "오만 리알",
	"PEN": "페루 솔",
	"PHP": "필리핀 페소",
	"PKR": "파키스탄 루피",
	"PLN": "폴란드 즐로티",
	"QAR": "카타르 리얄",
	"RON": "루마니아 레우",
	"RUB": "러시아 루블",
	"SAR": "사우디 리얄",
	"SEK": "스웨덴 크로나",
	"SGD": "싱가포르 달러",
	"THB": "태국 바트",
	"TRY": "튀르키예 리라",
	"TWD": "대만 달러",
	"UZS": "우즈베키스탄 숨",
	"USD": "미국 달러",
	"VND": "베트남 동",
	"ZAR": "남아프리카공화국 랜드",
}

// KoreanName returns the Korean name of an ISO 4217 currency code, or the
// code itself when the table does not know it.
func KoreanName(code string) string {
	if n, ok := koreanNames[code]; ok {
		return n
	}
	return code
}
