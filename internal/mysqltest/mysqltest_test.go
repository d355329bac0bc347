package mysqltest

import "testing"

func TestStart(t *testing.T) {
	dsn := Start(t)
	db := Open(t, dsn)
	var v string
	if err := db.QueryRow("SELECT VERSION()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	t.Logf("server %s at %s", v, dsn)
	Exec(t, dsn, "CREATE DATABASE x", "CREATE TABLE x.t (a int)")
	Wipe(t, dsn)
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'x'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("wipe left database x (%d, %v)", n, err)
	}
}
