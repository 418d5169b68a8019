// Package site is the travellers' web app: server-rendered pages
// (html/template) over ratewire's public APIs, a few small plain JavaScript
// modules for what must happen in the browser (live rates from the stream,
// country suggestions and clicks, the self-refreshing ranking), and SVG
// charts drawn by package chart. Every asset is embedded, so the binary
// serves the whole app and no other host is contacted.
package site

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/shared/country"
	"github.com/ratewire/ratewire/web/internal/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the pages need beyond the API client.
type Config struct {
	// API calls the services (server side).
	API *api.Client
	// KafkaUIURL, when set, is linked from the status page (compose runs
	// Kafka UI; devstack does not).
	KafkaUIURL string
	// Now is the clock of cookies, caches and the pages' dates; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives one line per failed API call; nil discards.
	Logger *slog.Logger
	// PopularRefresh is how often the popular page reloads its list in
	// the browser; 0 means 30 s.
	PopularRefresh time.Duration
}

// Site renders the pages. Build it with New; it is safe for concurrent use.
type Site struct {
	cfg       Config
	now       func() time.Time
	log       *slog.Logger
	pages     map[string]*template.Template
	assets    map[string]asset
	countries []country.Country

	mu         sync.Mutex
	currencies []api.Currency
	currAt     time.Time
	params     map[string]bool
	paramsAt   time.Time
}

type asset struct {
	body  []byte
	ctype string
	etag  string
	url   string
}

// metaTTL is how long the currency list and the converter's parameters
// are reused before being asked again.
const metaTTL = 5 * time.Minute

// Periods of the currency page's tabs, and of the popular page's.
var (
	Periods        = []string{"1w", "1m", "3m", "6m", "1y"}
	RankingPeriods = []string{"daily", "weekly", "monthly", "all"}
)

// forecastDays is the horizon shown on the currency page.
const forecastDays = 7

// New parses the templates and indexes the assets; an error means the
// embedded files are broken (a build problem, caught by the tests).
func New(cfg Config) (*Site, error) {
	s := &Site{cfg: cfg, now: cfg.Now, log: cfg.Logger, assets: map[string]asset{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.PopularRefresh <= 0 {
		s.cfg.PopularRefresh = 30 * time.Second
	}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:6])
		name := strings.TrimPrefix(p, "static/")
		s.assets[name] = asset{body: b, ctype: contentType(name), etag: `"` + h + `"`, url: "/static/" + name + "?v=" + h}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("site: assets: %w", err)
	}
	funcs := template.FuncMap{
		"asset":    func(name string) string { return s.assets[name].url },
		"perUnit":  perUnit,
		"perUnitP": perUnitPtr,
		"amount":   amount,
		"fixed":    fixed,
		"signed":   signed,
		"dir":      direction,
		"change":   change,
		"pct":      func(v float64) string { return fixed(v*100, 2) },
		"deref":    func(p *float64) float64 { return *p },
		"join":     strings.Join,
		"lower":    strings.ToLower,
		"mul":      func(a float64, b int) float64 { return a * float64(b) },
		"ago":      ago,
		"list":     func(s ...string) []string { return s },
		"kst":      func(t time.Time) string { return t.In(kst).Format("2006-01-02 15:04") },
		"kstp":     func(t *time.Time) string { return t.In(kst).Format("2006-01-02 15:04") },
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("site: layout: %w", err)
	}
	s.pages = map[string]*template.Template{}
	for _, name := range []string{"board", "convert", "search", "currency", "popular", "status", "error"} {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("site: template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	for _, c := range country.New().All() {
		s.countries = append(s.countries, c)
	}
	return s, nil
}

var kst = time.FixedZone("KST", 9*60*60)

func contentType(name string) string {
	switch path.Ext(name) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

// Register adds the pages, the suggestions endpoint and the assets to e,
// and makes unknown paths an HTML page instead of the API's JSON.
func (s *Site) Register(e *gin.Engine) {
	e.GET("/", s.board)
	e.GET("/convert", s.convert)
	e.GET("/search", s.search)
	e.GET("/suggest", s.suggest)
	e.GET("/currency/:code", s.currency)
	e.GET("/popular", s.popular)
	e.GET("/status", s.status)
	e.GET("/static/:name", s.static)
	e.GET("/favicon.ico", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, s.assets["icon.svg"].url) })
	e.NoRoute(func(c *gin.Context) {
		p := s.newPage(c, "", "err.title")
		p.Err = &pageError{Message: p.L.T("err.notfound")}
		s.render(c, http.StatusNotFound, "error", p)
	})
	// Every page is read with GET; another method on one is a page too.
	e.HandleMethodNotAllowed = true
	e.NoMethod(func(c *gin.Context) {
		c.Header("Allow", "GET")
		p := s.newPage(c, "", "err.title")
		p.Err = &pageError{Message: p.L.T("err.invalid")}
		s.render(c, http.StatusMethodNotAllowed, "error", p)
	})
}

// page is what every template receives.
type page struct {
	Lang, Other, OtherURL string
	L                     Dict
	Title                 string
	Active                string
	Err                   *pageError
	Data                  any
	// Notice is a non-fatal remark shown above the content.
	Notice string
}

// pageError is a failure in words a person understands.
type pageError struct {
	Message string
}

func (s *Site) newPage(c *gin.Context, active, titleKey string, args ...any) *page {
	lang := chooseLang(c.Writer, c.Request, s.now())
	p := &page{Lang: lang, L: dicts[lang], Active: active}
	p.Other = p.L.T("lang.other")
	q := c.Request.URL.Query()
	q.Set("lang", p.Other)
	p.OtherURL = c.Request.URL.Path + "?" + q.Encode()
	if len(args) > 0 {
		p.Title = p.L.F(titleKey, args...)
	} else {
		p.Title = p.L.T(titleKey)
	}
	return p
}

// render writes the page with status. The pages are small, so rendering
// into memory first means a template failure is a clean 500, not half a
// page.
func (s *Site) render(c *gin.Context, status int, name string, p *page) {
	var b strings.Builder
	if err := s.pages[name].ExecuteTemplate(&b, "layout.html", p); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte(p.L.T("err.internal")))
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Language", p.Lang)
	c.Data(status, "text/html; charset=utf-8", []byte(b.String()))
}

// fail renders err as a page in words: the status says what happened, the
// message what to do.
func (s *Site) fail(c *gin.Context, p *page, err error, subject string) {
	msg, status := s.explain(p.L, err, subject)
	p.Err = &pageError{Message: msg}
	p.Title = p.L.T("err.title")
	s.render(c, status, "error", p)
}

// explain turns an API failure into a sentence and a status. subject is
// what the person asked for (a country, a currency code), quoted in the
// sentence where it helps.
func (s *Site) explain(l Dict, err error, subject string) (string, int) {
	var e *api.Error
	service := "web"
	if errors.As(err, &e) {
		service = e.Service
	}
	s.log.Warn("api call failed", "err", err)
	switch api.KindOf(err) {
	case api.KindDown:
		return l.F("err.down", l.T("svc."+service)), http.StatusServiceUnavailable
	case api.KindUnknownCountry:
		return l.F("err.country", subject), http.StatusNotFound
	case api.KindNotFound:
		if subject != "" {
			return l.F("err.currency", subject), http.StatusNotFound
		}
		return l.T("err.notfound"), http.StatusNotFound
	case api.KindInvalid:
		return l.T("err.invalid"), http.StatusBadRequest
	case api.KindUnavailable:
		if e != nil && e.Code == "RATE_UNAVAILABLE" {
			return l.T("err.nospread"), http.StatusUnprocessableEntity
		}
		return l.T("err.unavailable"), http.StatusUnprocessableEntity
	case api.KindLimited:
		return l.T("err.limited"), http.StatusTooManyRequests
	}
	return l.T("err.internal"), http.StatusBadGateway
}

func (s *Site) static(c *gin.Context) {
	a, ok := s.assets[c.Param("name")]
	if !ok {
		c.Status(http.StatusNotFound)
		return
	}
	h := c.Writer.Header()
	h.Set("ETag", a.etag)
	if c.Query("v") != "" && a.etag == `"`+c.Query("v")+`"` {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	if c.GetHeader("If-None-Match") == a.etag {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, a.ctype, a.body)
}

// supported returns the currency list, asked at most every metaTTL.
func (s *Site) supported(ctx context.Context) ([]api.Currency, error) {
	s.mu.Lock()
	if s.currencies != nil && s.now().Sub(s.currAt) < metaTTL {
		defer s.mu.Unlock()
		return s.currencies, nil
	}
	s.mu.Unlock()
	list, err := s.cfg.API.Currencies(ctx)
	if err != nil {
		return nil, err
	}
	// A list without a quoted currency (KRW alone: no rates collected yet,
	// on a fresh start) is asked again next time rather than kept.
	if len(orderCodes(list)) > 0 {
		s.mu.Lock()
		s.currencies, s.currAt = list, s.now()
		s.mu.Unlock()
	}
	return list, nil
}

// convertParams returns the query parameters /convert takes, from the
// currency service's OpenAPI document, asked at most every metaTTL. A
// service that cannot say offers only the basic ones.
func (s *Site) convertParams(ctx context.Context) map[string]bool {
	s.mu.Lock()
	if s.params != nil && s.now().Sub(s.paramsAt) < metaTTL {
		defer s.mu.Unlock()
		return s.params
	}
	s.mu.Unlock()
	params, err := s.cfg.API.ConvertParams(ctx)
	if err != nil {
		s.log.Warn("read the currency service's OpenAPI document", "err", err)
		return map[string]bool{}
	}
	s.mu.Lock()
	s.params, s.paramsAt = params, s.now()
	s.mu.Unlock()
	return params
}

// preferredOrder puts the currencies Korean travellers look for first; the
// rest follow by code.
var preferredOrder = []string{"USD", "JPY", "EUR", "CNY", "GBP", "HKD", "THB", "VND", "TWD", "SGD", "AUD", "CAD", "PHP", "IDR", "MYR", "CHF"}

func orderCodes(list []api.Currency) []string {
	var codes []string
	for _, c := range list {
		if c.Code != "KRW" {
			codes = append(codes, c.Code)
		}
	}
	rank := func(code string) int {
		if i := slices.Index(preferredOrder, code); i >= 0 {
			return i
		}
		return len(preferredOrder)
	}
	sort.SliceStable(codes, func(i, j int) bool {
		ri, rj := rank(codes[i]), rank(codes[j])
		if ri != rj {
			return ri < rj
		}
		return codes[i] < codes[j]
	})
	return codes
}

// boardRow is one currency on the rates board.
type boardRow struct {
	Rate api.Rate
	Name string
}

type boardData struct {
	Rows           []boardRow
	Symbols        string
	HasTT, HasCash bool
}

func (s *Site) board(c *gin.Context) {
	p := s.newPage(c, "rates", "board.title")
	list, err := s.supported(c)
	if err != nil {
		s.fail(c, p, err, "")
		return
	}
	codes := orderCodes(list)
	if len(codes) == 0 {
		p.Notice = p.L.T("board.empty")
		p.Data = boardData{}
		s.render(c, http.StatusOK, "board", p)
		return
	}
	rates, err := s.cfg.API.Rates(c, codes)
	if err != nil {
		s.fail(c, p, err, "")
		return
	}
	byCode := map[string]api.Rate{}
	for _, r := range rates {
		byCode[r.CurrencyCode] = r
	}
	d := boardData{}
	for _, code := range codes {
		r, ok := byCode[code]
		if !ok {
			continue
		}
		name := r.CurrencyName
		if p.Lang == LangEn {
			name = r.CurrencyNameEn
		}
		d.Rows = append(d.Rows, boardRow{Rate: r, Name: name})
		d.HasTT = d.HasTT || r.TTS != nil || r.TTB != nil
		d.HasCash = d.HasCash || r.CashBuy != nil || r.CashSell != nil
	}
	var shown []string
	for _, r := range d.Rows {
		shown = append(shown, r.Rate.CurrencyCode)
	}
	d.Symbols = strings.Join(shown, ",")
	p.Data = d
	s.render(c, http.StatusOK, "board", p)
}

type convertData struct {
	From, To, Amount, RateType, Channel, Preferential string
	Codes                                             []api.Currency
	OffersChannel, OffersPreferential                 bool
	Result                                            *api.Conversion
	Extra                                             []kv
}

// kv is one line of the cost breakdown.
type kv struct{ Key, Value string }

var amountRe = regexp.MustCompile(`^[0-9]{1,13}(\.[0-9]{1,8})?$`)

// breakdownOrder is the order of the cost breakdown's known lines; any
// other field the service adds follows, under its own name.
var breakdownOrder = []string{"amount_at_mid", "margin", "margin_preferential", "preferential_saving", "effective_rate"}

func (s *Site) convert(c *gin.Context) {
	p := s.newPage(c, "convert", "convert.title")
	list, err := s.supported(c)
	if err != nil {
		s.fail(c, p, err, "")
		return
	}
	params := s.convertParams(c)
	q := c.Request.URL.Query()
	d := convertData{
		From: strings.ToUpper(orDefault(q.Get("from"), "USD")), To: strings.ToUpper(orDefault(q.Get("to"), "KRW")),
		Amount: strings.ReplaceAll(strings.TrimSpace(q.Get("amount")), ",", ""), RateType: orDefault(q.Get("rate_type"), "bank"),
		Codes: list, OffersChannel: params["channel"], OffersPreferential: params["preferential"],
	}
	if d.OffersChannel {
		d.Channel = q.Get("channel")
	}
	if d.OffersPreferential {
		d.Preferential = strings.TrimSpace(q.Get("preferential"))
	}
	p.Data = &d
	if d.Amount == "" {
		s.render(c, http.StatusOK, "convert", p)
		return
	}
	if !amountRe.MatchString(d.Amount) {
		p.Err = &pageError{Message: p.L.T("err.amount")}
		s.render(c, http.StatusBadRequest, "convert", p)
		return
	}
	query := api.ConvertQuery{From: d.From, To: d.To, Amount: d.Amount, RateType: d.RateType, Channel: d.Channel, Preferential: d.Preferential}
	res, err := s.cfg.API.Convert(c, query)
	if err != nil && api.KindOf(err) == api.KindInvalid && (query.Channel != "" || query.Preferential != "") {
		// The document promised parameters the service refuses (an older
		// replica behind the gateway): convert without them and say so.
		query.Channel, query.Preferential = "", ""
		if res, err = s.cfg.API.Convert(c, query); err == nil {
			p.Notice = p.L.T("convert.nochannel")
		}
	}
	if err != nil {
		msg, status := s.explain(p.L, err, "")
		p.Err = &pageError{Message: msg}
		s.render(c, status, "convert", p)
		return
	}
	d.Result = &res
	d.Extra = breakdown(p.L, res)
	s.render(c, http.StatusOK, "convert", p)
}

func orDefault(s, def string) string {
	if s = strings.TrimSpace(s); s == "" {
		return def
	}
	return s
}

type searchData struct {
	Query  string
	Result *api.SearchResult
	Name   string
	Href   string
}

func (s *Site) search(c *gin.Context) {
	p := s.newPage(c, "search", "search.title")
	q := strings.TrimSpace(c.Query("q"))
	d := &searchData{Query: q}
	p.Data = d
	if q == "" {
		s.render(c, http.StatusOK, "search", p)
		return
	}
	res, err := s.cfg.API.Search(c, q)
	if err != nil {
		msg, status := s.explain(p.L, err, q)
		p.Err = &pageError{Message: msg}
		s.render(c, status, "search", p)
		return
	}
	d.Result = &res
	d.Name = res.CountryName
	if p.Lang == LangEn {
		d.Name = res.CountryNameEn
	}
	d.Href = "/currency/" + res.CurrencyCode + "?country=" + res.CountryCode
	s.render(c, http.StatusOK, "search", p)
}

// suggestion is one entry of /suggest.
type suggestion struct {
	Code     string `json:"country_code"`
	Name     string `json:"name"`
	Other    string `json:"other_name"`
	Currency string `json:"currency_code"`
	Href     string `json:"href"`
}

// maxSuggestions bounds the list under the search box.
const maxSuggestions = 8

// suggest answers the search box's suggestions: countries whose Korean or
// English name starts with (then contains) the input, or whose ISO code it
// is, limited to currencies the platform quotes.
func (s *Site) suggest(c *gin.Context) {
	lang := chooseLang(c.Writer, c.Request, s.now())
	q := normalize(c.Query("q"))
	c.Header("Cache-Control", "public, max-age=60")
	if q == "" || len(q) > country.MaxInputLen {
		c.JSON(http.StatusOK, []suggestion{})
		return
	}
	quoted := map[string]bool{}
	if list, err := s.supported(c); err == nil {
		for _, cur := range list {
			if cur.Code != "KRW" {
				quoted[cur.Code] = true
			}
		}
	}
	type scored struct {
		c     country.Country
		score int
	}
	var hits []scored
	for _, ct := range s.countries {
		if len(quoted) > 0 && !quoted[ct.Currency] {
			continue
		}
		ko, en := normalize(ct.NameKo), normalize(ct.NameEn)
		score := 0
		switch {
		case q == strings.ToLower(ct.Code) || q == strings.ToLower(ct.Alpha3) || q == ko || q == en:
			score = 4
		case strings.HasPrefix(ko, q) || strings.HasPrefix(en, q):
			score = 3
		case strings.Contains(ko, q) || strings.Contains(en, q):
			score = 2
		case len(q) == 3 && strings.EqualFold(q, ct.Currency):
			score = 1
		}
		if score > 0 {
			hits = append(hits, scored{ct, score})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score > hits[j].score
		}
		return hits[i].c.NameEn < hits[j].c.NameEn
	})
	out := []suggestion{}
	for _, h := range hits {
		if len(out) == maxSuggestions {
			break
		}
		name, other := h.c.NameKo, h.c.NameEn
		if lang == LangEn {
			name, other = other, name
		}
		out = append(out, suggestion{Code: h.c.Code, Name: name, Other: other, Currency: h.c.Currency,
			Href: "/currency/" + h.c.Currency + "?country=" + h.c.Code})
	}
	c.JSON(http.StatusOK, out)
}

func normalize(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// breakdown lists the cost breakdown of res in words: the known lines in
// breakdownOrder with their labels, amounts in the breakdown's currency,
// then any other field under its own name.
func breakdown(l Dict, res api.Conversion) []kv {
	if len(res.Breakdown) == 0 {
		return nil
	}
	cur := res.To
	var c string
	if json.Unmarshal(res.Breakdown["currency"], &c) == nil && c != "" {
		cur = c
	}
	var out []kv
	add := func(k string, v json.RawMessage) {
		val := scalar(v)
		switch {
		case k == "effective_rate":
			val = "1 " + res.From + " = " + val + " " + cur
		case slices.Contains(breakdownOrder, k):
			val += " " + cur
		}
		label := l.T("breakdown." + k)
		if label == "breakdown."+k {
			label = strings.ReplaceAll(k, "_", " ")
		}
		out = append(out, kv{Key: label, Value: val})
	}
	for _, k := range breakdownOrder {
		if v, ok := res.Breakdown[k]; ok {
			add(k, v)
		}
	}
	var rest []string
	for k := range res.Breakdown {
		if k != "currency" && !slices.Contains(breakdownOrder, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		add(k, res.Breakdown[k])
	}
	return out
}

// scalar renders a JSON value for reading: strings unquoted (decimal ones
// with separators), null as a dash, anything else as its JSON text.
func scalar(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return amount(s)
	}
	if string(v) == "null" {
		return "–"
	}
	return string(v)
}
