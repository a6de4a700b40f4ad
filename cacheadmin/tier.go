package cacheadmin

import "github.com/larderhq/larder"

// tierBody is one tier's counters as the handlers report them: the
// larder.TierStats fields plus the hit ratio, which a dashboard would
// otherwise have to compute from two fields itself.
type tierBody struct {
	Hits         uint64  `json:"hits"`
	Misses       uint64  `json:"misses"`
	HitRatio     float64 `json:"hit_ratio"`
	Sets         uint64  `json:"sets"`
	Deletes      uint64  `json:"deletes"`
	Errors       uint64  `json:"errors"`
	Timeouts     uint64  `json:"timeouts"`
	Rejected     uint64  `json:"rejected"`
	DecodeErrors uint64  `json:"decode_errors"`
}

func newTierBody(s larder.TierStats) tierBody {
	return tierBody{
		Hits:         s.Hits,
		Misses:       s.Misses,
		HitRatio:     s.HitRatio(),
		Sets:         s.Sets,
		Deletes:      s.Deletes,
		Errors:       s.Errors,
		Timeouts:     s.Timeouts,
		Rejected:     s.Rejected,
		DecodeErrors: s.DecodeErrors,
	}
}
