package e2e

import (
	"context"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

const bankViews = `
CREATE VIEW bank.balances AS SELECT id, owner, balance FROM accounts;
CREATE VIEW bank.totals AS SELECT count(*) AS accounts, sum(balance) AS total FROM accounts;
CREATE VIEW bank.by_owner AS SELECT owner, sum(balance) AS total FROM accounts GROUP BY owner;
`

// TestAtomicity moves money between accounts in multi-statement
// transactions (and opens/closes accounts, keeping the total) while readers
// poll the sink. Since every source transaction keeps the total, a reader
// that ever sees another total has seen half a transaction (I2).
func TestAtomicity(t *testing.T) {
	const accounts, initial = 20, 1000
	transfers := 600
	if testing.Short() {
		transfers = 200
	}
	sd := seed(t)
	t.Logf("seed %d", sd)
	rng := rand.New(rand.NewSource(sd))

	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "warehouse")
	pgtest.Exec(t, src, "app", `CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL);
		INSERT INTO accounts SELECT g, 'owner' || (g % 4), 1000 FROM generate_series(1, 20) g;`)
	srcConn := connect(t, src, "app")
	snk := connect(t, src, "warehouse")

	defs, err := planner.ParseViews("bank.sql", bankViews)
	if err != nil {
		t.Fatal(err)
	}
	var names []row.TableName
	for _, d := range defs {
		names = append(names, d.Name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(ctx, pipeline.Config{
			Source:  cdc.Config{DSN: src.DSN("app"), Slot: "ripple", Publication: "ripple"},
			Views:   defs,
			Targets: []pipeline.Target{{Sink: sink.NewPostgres(sink.PostgresConfig{Name: "main", DSN: src.DSN("warehouse")}), Views: names}},
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
	}()
	waitLoaded(t, snk, done)

	want := int64(accounts * initial)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads [3]int
	var mu sync.Mutex
	reader := func(i int, conn *pgx.Conn, q string) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var total *int64
			if err := conn.QueryRow(context.Background(), q).Scan(&total); err != nil {
				t.Errorf("reader %d: %v", i, err)
				return
			}
			if total == nil || *total != want {
				t.Errorf("reader %d saw total %v, want %d: half a source transaction is visible (%s)", i, total, want, q)
				return
			}
			mu.Lock()
			reads[i]++
			mu.Unlock()
		}
	}
	queries := []string{
		"SELECT sum(balance)::bigint FROM bank.balances",
		"SELECT total::bigint FROM bank.totals",
		"SELECT sum(total)::bigint FROM bank.by_owner",
	}
	for i, q := range queries {
		wg.Add(1)
		conn := connect(t, src, "warehouse")
		go reader(i, conn, q)
	}

	nextID := accounts + 1
	for i := 0; i < transfers; i++ {
		tx, err := srcConn.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		exec := func(sql string, args ...any) {
			if _, err := tx.Exec(context.Background(), sql, args...); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		if rng.Intn(10) == 0 { // close an account, moving its balance to a new one
			exec(`WITH closed AS (DELETE FROM accounts WHERE id = (SELECT id FROM accounts ORDER BY random() LIMIT 1) RETURNING owner, balance)
				INSERT INTO accounts SELECT $1, owner, balance FROM closed`, nextID)
			nextID++
		} else {
			amount := rng.Intn(300)
			exec("UPDATE accounts SET balance = balance - $1 WHERE id = (SELECT id FROM accounts ORDER BY random() LIMIT 1)", amount)
			exec("UPDATE accounts SET balance = balance + $1 WHERE id = (SELECT id FROM accounts ORDER BY random() LIMIT 1)", amount)
		}
		if err := tx.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !checkAll(t, srcConn, "ripple", map[string]*pgx.Conn{"main": snk}, oracleViews(t, srcConn, bankViews), "after transfers") {
		t.Fatal("sink differs from views")
	}
	close(stop)
	wg.Wait()
	t.Logf("readers made %v consistent reads during %d transfers", reads, transfers)
	for i, n := range reads {
		if n == 0 {
			t.Errorf("reader %d never read", i)
		}
	}
}
