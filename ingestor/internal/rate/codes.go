package rate

import "github.com/bojanz/currency"

// Active reports whether code is a currency ratewire stores: an active ISO
// 4217 code, as github.com/bojanz/currency lists them from current CLDR
// data (a maintained source: it drops a code when ISO withdraws it, e.g.
// HRK in 2023, BGN in 2026, and has the replacements MRU, SLE, VES, ZWG,
// XCG), or CNH, the offshore yuan that is not an ISO code but is what
// Korea Eximbank and the simulator quote (see WithTwins).
//
// Retired codes that old provider bodies still list (DEM, FRF, ESP, ITL,
// ATS, BEF, FIM, NLG: the euro's predecessors), pseudo-codes some APIs add
// (FOK, GGP, IMP, JEP, KID, TVD) and funds or metals (XDR, XAU) are not
// active. XOF, the West African CFA franc, is active and is kept.
func Active(code string) bool { // IsValid("") is true: "no currency" in that library
	return code == "CNH" || (code != "" && currency.IsValid(code))
}
