package pipeline

import (
	"sort"
	"sync"
	"time"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/row"
)

// Phases of a pipeline run, in order; a run ends stopped or failed.
const (
	PhaseStarting     = "starting"     // connecting, planning, opening sinks
	PhaseSnapshot     = "snapshot"     // reading the initial snapshot
	PhaseLoading      = "loading"      // loading the snapshot into the sinks
	PhaseStreaming    = "streaming"    // applying source transactions
	PhaseReconnecting = "reconnecting" // a connection was lost; waiting to start over
	PhaseStopped      = "stopped"      // the run ended without error
	PhaseFailed       = "failed"       // the run ended with an error
)

// rateWindow is the period throughput figures are averaged over.
const rateWindow = 30

// Status is the live state of one pipeline run, for /status, /readyz and
// `ripple status`. Run updates it (pass one in Config.Status to read it);
// Report and Ready may be called from any goroutine at any time. Use
// NewStatus: the zero value is not ready for use.
type Status struct {
	mu struct {
		sync.Mutex
		r          StatusReport
		views      map[string]*viewState // by view name as the graph names it
		txns       rate
		changes    rate
		streamFrom time.Time // when streaming began; rates start here
	}
}

type viewState struct {
	ViewStatus
	rate rate
}

// StatusReport is a point-in-time copy of a Status, as /status serves it in
// JSON. LSNs are in PostgreSQL's text form ("16/B374D848"); byte sizes are
// bytes; an unset time is the zero time.
type StatusReport struct {
	Pipeline  string    `json:"pipeline"` // the slot name
	Phase     string    `json:"phase"`    // one of the Phase constants
	Ready     bool      `json:"ready"`    // what /readyz answers
	StartedAt time.Time `json:"started_at"`
	Now       time.Time `json:"now"` // when the report was taken

	Snapshot SnapshotStatus `json:"snapshot"`
	Slot     SlotStatus     `json:"slot"`
	State    StateStatus    `json:"state"`
	// Reconnects counts the times a lost connection was retried.
	Reconnects int64 `json:"reconnects"`

	// LastLSN is the commit LSN of the last source transaction durable in
	// every sink (after the initial load: the snapshot's consistent point).
	LastLSN        string    `json:"last_lsn"`
	LastCommitTime time.Time `json:"last_commit_time"` // its source commit time
	LastAppliedAt  time.Time `json:"last_applied_at"`  // when it became durable
	// LogicalTime is now() in views with temporal filters at the last
	// applied step (a transaction or a tick); zero without such views.
	LogicalTime time.Time `json:"logical_time,omitempty"`

	Transactions        int64        `json:"transactions"`            // source transactions applied since start
	Changes             int64        `json:"changes"`                 // source row changes in them
	TransactionsPerSec  float64      `json:"transactions_per_second"` // over the last 30s
	ChangesPerSec       float64      `json:"changes_per_second"`
	StateBytes          int64        `json:"state_bytes"` // estimate: table arrangements only, see StateNote
	StateRows           int64        `json:"state_rows"`
	StateNote           string       `json:"state_note"`
	Views               []ViewStatus `json:"views"`  // sorted by name
	Errors              int64        `json:"errors"` // errors so far (lag polls and the terminal one)
	LastError           string       `json:"last_error,omitempty"`
	LastErrorAt         time.Time    `json:"last_error_at"`
	LastErrorIsTerminal bool         `json:"last_error_terminal,omitempty"`
}

// SnapshotStatus is the progress of the initial snapshot.
type SnapshotStatus struct {
	Rows          int64     `json:"rows"`           // read so far
	EstimatedRows int64     `json:"estimated_rows"` // from pg_class.reltuples; 0 when unknown
	RowsPerSec    float64   `json:"rows_per_second"`
	StartedAt     time.Time `json:"started_at"`
	DoneAt        time.Time `json:"done_at"` // loaded into every sink; zero while running
	Done          bool      `json:"done"`
}

// StateStatus is the durable engine state (empty without a state_dir).
type StateStatus struct {
	Dir string `json:"dir,omitempty"`
	// Resumed says the run resumed from the state rather than a snapshot.
	Resumed bool `json:"resumed"`
	// CheckpointLSN is the last checkpoint known durable: the slot is
	// acknowledged up to it.
	CheckpointLSN string    `json:"checkpoint_lsn,omitempty"`
	SyncedAt      time.Time `json:"synced_at"`
	DiskBytes     int64     `json:"disk_bytes"`
	// OnDisk lists the tables whose copies moved to disk because the
	// copies outgrew table_memory (sorted).
	OnDisk []string `json:"tables_on_disk,omitempty"`
	// ArrangementsOnDisk of Arrangements of the dataflow graph moved to the
	// operator spill store because they outgrew operator_memory.
	ArrangementsOnDisk int `json:"arrangements_on_disk,omitempty"`
	Arrangements       int `json:"arrangements,omitempty"`
}

// SlotStatus is the replication slot's lag as last polled.
type SlotStatus struct {
	Name          string  `json:"name"`
	LagBytes      int64   `json:"lag_bytes"`      // current WAL − confirmed_flush_lsn
	LagSeconds    float64 `json:"lag_seconds"`    // 0 without pending WAL, else now − the later of the last applied commit and the last caught-up poll
	RetainedBytes int64   `json:"retained_bytes"` // current WAL − restart_lsn
	// MaxRetainedBytes is source.max_retained_wal (0: no limit) and
	// RetainedOverLimit whether the slot retains more (or PostgreSQL
	// reports its WAL "unreserved": the next checkpoint may invalidate it).
	MaxRetainedBytes  int64     `json:"max_retained_bytes"`
	RetainedOverLimit bool      `json:"retained_over_limit"`
	WALStatus         string    `json:"wal_status,omitempty"` // pg_replication_slots.wal_status
	CheckedAt         time.Time `json:"checked_at"`           // zero before the first poll
	Error             string    `json:"error,omitempty"`      // the last poll's error, if it failed
}

// ViewStatus is one view.
type ViewStatus struct {
	Name          string   `json:"name"`
	Sinks         []string `json:"sinks"`
	Rows          int64    `json:"rows"`            // sum of weights: the rows the view holds
	LastLSN       string   `json:"last_lsn"`        // last LSN applied to its sinks
	LastChangeLSN string   `json:"last_change_lsn"` // last transaction that changed it ("" if none since the load)
	Transactions  int64    `json:"transactions"`    // streamed transactions that changed it
	RowChanges    int64    `json:"row_changes"`     // sum of |weight| of its streamed changes
	ChangesPerSec float64  `json:"changes_per_second"`
	// Failed is the runtime error that stopped the view (its sink tables
	// keep their contents from before FailedLSN); "" while it is healthy.
	Failed    string `json:"failed,omitempty"`
	FailedLSN string `json:"failed_lsn,omitempty"`
}

// stateNote says what StateBytes covers.
const stateNote = "table copies held in memory only; tables moved to disk and dataflow operator state (joins, aggregates, DISTINCT) are not measured"

// NewStatus returns an empty Status in PhaseStarting.
func NewStatus() *Status {
	s := &Status{}
	s.mu.r = StatusReport{Phase: PhaseStarting, StateNote: stateNote}
	s.mu.views = map[string]*viewState{}
	return s
}

// Report returns a copy of the current state, with throughput computed now.
func (s *Status) Report() StatusReport {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mu.r
	r.Now = now
	r.Ready = r.Phase == PhaseStreaming
	if !s.mu.streamFrom.IsZero() {
		r.TransactionsPerSec = s.mu.txns.perSecond(now, s.mu.streamFrom)
		r.ChangesPerSec = s.mu.changes.perSecond(now, s.mu.streamFrom)
	}
	if sn := r.Snapshot; !sn.StartedAt.IsZero() {
		end := sn.DoneAt
		if end.IsZero() {
			end = now
		}
		if d := end.Sub(sn.StartedAt).Seconds(); d > 0 {
			r.Snapshot.RowsPerSec = float64(sn.Rows) / d
		}
	}
	r.Views = make([]ViewStatus, 0, len(s.mu.views))
	for _, v := range s.mu.views {
		vs := v.ViewStatus
		vs.Sinks = append([]string(nil), v.Sinks...)
		if !s.mu.streamFrom.IsZero() {
			vs.ChangesPerSec = v.rate.perSecond(now, s.mu.streamFrom)
		}
		r.Views = append(r.Views, vs)
	}
	sort.Slice(r.Views, func(i, j int) bool { return r.Views[i].Name < r.Views[j].Name })
	return r
}

// Ready reports whether the pipeline has loaded every sink, is streaming
// and its last step did not fail; when not, why.
func (s *Status) Ready() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.mu.r.Phase {
	case PhaseStreaming:
		return true, "streaming"
	case PhaseFailed:
		return false, "failed: " + s.mu.r.LastError
	case PhaseStopped:
		return false, "stopped"
	}
	return false, s.mu.r.Phase + " (initial load not done)"
}

func (s *Status) begin(pipeline string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.r.Pipeline = pipeline
	s.mu.r.Slot.Name = pipeline
	s.mu.r.StartedAt = time.Now()
	s.mu.r.Phase = PhaseStarting
}

// setViews registers the views and the sinks that hold them.
func (s *Status) setViews(sinksOf map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, sinks := range sinksOf {
		s.mu.views[name] = &viewState{ViewStatus: ViewStatus{Name: name, Sinks: sinks}}
	}
}

func (s *Status) snapshotStarted(estimate int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.r.Phase = PhaseSnapshot
	s.mu.r.Snapshot.StartedAt = time.Now()
	s.mu.r.Snapshot.EstimatedRows = estimate
}

func (s *Status) snapshotRows(rows int64, read bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.r.Snapshot.Rows = rows
	if read {
		s.mu.r.Phase = PhaseLoading
	}
}

// loaded records the end of the initial load.
func (s *Status) loaded(lsn row.LSN, viewRows map[string]int64, stateBytes, stateRows int64) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.r.Phase = PhaseStreaming
	s.mu.r.Snapshot.Done = true
	s.mu.r.Snapshot.DoneAt = now
	s.mu.r.LastLSN = lsn.String()
	s.mu.r.LastAppliedAt = now
	s.mu.r.StateBytes, s.mu.r.StateRows = stateBytes, stateRows
	s.mu.streamFrom = now
	for name, v := range s.mu.views {
		v.Rows = viewRows[name]
		v.LastLSN = lsn.String()
	}
}

// applied records one applied source transaction.
func (s *Status) applied(info StepInfo, viewRows map[string]int64, stateBytes, stateRows int64) {
	now := time.Now()
	lsn := info.LSN.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.mu.r
	if !info.Time.IsZero() {
		r.LogicalTime = info.Time
	}
	if info.Tick {
		for name, v := range s.mu.views {
			if v.Failed == "" {
				v.Rows = viewRows[name]
			}
		}
		return
	}
	r.LastLSN, r.LastCommitTime, r.LastAppliedAt = lsn, info.CommitTime, now
	r.Transactions++
	r.Changes += int64(info.Changes)
	r.StateBytes, r.StateRows = stateBytes, stateRows
	s.mu.txns.add(now, 1)
	s.mu.changes.add(now, int64(info.Changes))
	for name, v := range s.mu.views {
		if v.Failed != "" {
			continue
		}
		v.LastLSN = lsn
		v.Rows = viewRows[name]
		if n, ok := info.ViewRows[name]; ok {
			v.LastChangeLSN = lsn
			v.Transactions++
			v.RowChanges += int64(n)
			v.rate.add(now, int64(n))
		}
	}
}

// lastCommit returns the commit time of the last applied transaction, or
// when the snapshot started if none was applied yet.
func (s *Status) lastCommit() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mu.r.LastCommitTime.IsZero() {
		return s.mu.r.LastCommitTime
	}
	return s.mu.r.Snapshot.StartedAt
}

func (s *Status) lag(h cdc.SlotHealth, seconds float64, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.r.Slot.LagBytes, s.mu.r.Slot.RetainedBytes = h.LagBytes, h.RetainedBytes
	s.mu.r.Slot.MaxRetainedBytes, s.mu.r.Slot.RetainedOverLimit, s.mu.r.Slot.WALStatus = max(h.MaxRetained, 0), h.OverLimit(), h.WALStatus
	s.mu.r.Slot.LagSeconds, s.mu.r.Slot.CheckedAt, s.mu.r.Slot.Error = seconds, at, ""
}

func (s *Status) lagError(err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.r.Slot.Error = err.Error()
	s.mu.r.Errors++
	s.mu.r.LastError, s.mu.r.LastErrorAt, s.mu.r.LastErrorIsTerminal = "slot lag: "+err.Error(), now, false
}

// viewFailed records a view stopped by a runtime error.
func (s *Status) viewFailed(name, err string, lsn row.LSN) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.mu.views[name]; ok {
		v.Failed, v.FailedLSN = err, lsn.String()
	}
	s.mu.r.Errors++
	s.mu.r.LastError, s.mu.r.LastErrorAt, s.mu.r.LastErrorIsTerminal = "view "+name+": "+err, now, false
}

// tableSpilled records that table's copy moved to disk.
func (s *Status) tableSpilled(table string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.mu.r.State.OnDisk {
		if t == table {
			return // again, after a reconnect rebuilt the engine
		}
	}
	s.mu.r.State.OnDisk = append(s.mu.r.State.OnDisk, table)
	sort.Strings(s.mu.r.State.OnDisk)
}

// operatorSpilled records how many of the graph's arrangements are in the
// operator spill store.
func (s *Status) operatorSpilled(spilled, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.r.State.ArrangementsOnDisk, s.mu.r.State.Arrangements = spilled, n
}

// stateOpened records the state directory and whether the run resumed.
func (s *Status) stateOpened(dir string, resumed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.r.State.Dir, s.mu.r.State.Resumed = dir, resumed
}

// synced records a durable checkpoint.
func (s *Status) synced(lsn row.LSN, diskBytes int64) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.r.State.CheckpointLSN, s.mu.r.State.SyncedAt, s.mu.r.State.DiskBytes = lsn.String(), now, diskBytes
}

// retrying records a lost connection that Run reconnects after.
func (s *Status) retrying(err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.r.Reconnects++
	s.mu.r.Phase = PhaseReconnecting
	s.mu.r.Errors++
	s.mu.r.LastError, s.mu.r.LastErrorAt, s.mu.r.LastErrorIsTerminal = err.Error(), now, false
}

// end records the end of the run: failed with err, or stopped when nil.
func (s *Status) end(err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.mu.r.Phase = PhaseStopped
		return
	}
	s.mu.r.Phase = PhaseFailed
	s.mu.r.Errors++
	s.mu.r.LastError, s.mu.r.LastErrorAt, s.mu.r.LastErrorIsTerminal = err.Error(), now, true
}

// rate counts events in one-second buckets over the last rateWindow
// seconds. Not safe for concurrent use (Status guards it).
type rate struct {
	buckets [rateWindow]struct{ sec, n int64 }
}

func (r *rate) add(now time.Time, n int64) {
	sec := now.Unix()
	b := &r.buckets[sec%rateWindow]
	if b.sec != sec {
		b.sec, b.n = sec, 0
	}
	b.n += n
}

// perSecond is the average rate over the window ending now, or since
// `since` when that is later.
func (r *rate) perSecond(now, since time.Time) float64 {
	sec := now.Unix()
	var sum int64
	for _, b := range r.buckets {
		if b.sec > sec-rateWindow && b.sec <= sec {
			sum += b.n
		}
	}
	from := time.Unix(sec-rateWindow+1, 0)
	if since.After(from) {
		from = since
	}
	span := now.Sub(from).Seconds()
	if span < 1 {
		span = 1 // don't extrapolate from a fraction of a second
	}
	return float64(sum) / span
}
