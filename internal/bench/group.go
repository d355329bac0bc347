package bench

import (
	"errors"

	"github.com/rippledb/ripple/internal/pipeline"
)

var errNoGrouping = errors.New("this pipeline has no grouping mode")

// setGroup switches cfg into grouped sink mode (up to n whole source
// transactions per sink transaction); false when the pipeline has none.
func setGroup(cfg *pipeline.Config, n int) bool {
	return false
}
