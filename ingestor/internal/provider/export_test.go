package provider

// Exported for the _test package's fuzz targets and table tests only.
var (
	ParseExchangeRateAPI   = parseExchangeRateAPI
	ParseKoreaExim         = parseKoreaExim
	ParseFrankfurterLatest = parseFrankfurterLatest
	ParseFrankfurterSeries = parseFrankfurterSeries
	ParseHana              = parseHana
	ParseAmount            = parseAmount
	ParseRetryAfter        = parseRetryAfter
	Cross                  = cross
	SigDigits              = sigDigits
	ParseIssuerCert        = parseIssuerCert
	KoreaEximNext          = koreaEximNext
	ECBNext                = ecbNext
	HanaNext               = hanaNext
	ExchangeRateAPINext    = exchangeRateAPINext
)
