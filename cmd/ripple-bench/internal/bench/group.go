package bench

import (
	"errors"

	"github.com/rippledb/ripple/internal/pipeline"
)

var errNoGrouping = errors.New("this pipeline has no grouping mode")

// setGroup switches cfg into grouped sink mode: up to n whole, consecutive
// source transactions per sink transaction when they are already queued.
func setGroup(cfg *pipeline.Config, n int) bool {
	cfg.GroupTxns = n
	return true
}
