package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
)

// InControl reports whether a customer is in a rule's control group, given
// the rule's control share in basis points (see rulefmt.ParseControl). The
// choice is a stable hash of "ruleset/rule/customer": the same on every
// run, in every process and shard, and independent of the customer's
// facts, so a customer stays in the same group for the rule's lifetime and
// the group is a fair sample of the customers the rule proposes to.
func InControl(ruleset, rule string, customer int64, share int) bool {
	if share <= 0 {
		return false
	}
	sum := sha256.Sum256([]byte(ruleset + "/" + rule + "/" + strconv.FormatInt(customer, 10)))
	return binary.BigEndian.Uint64(sum[:8])%10000 < uint64(share)
}
