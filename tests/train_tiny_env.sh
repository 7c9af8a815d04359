# train_tiny_env.sh — sourced by the data-parallel training tests
# (train_mpi.sh, train_replicas.sh) after tap.sh: a tiny synthetic dataset in
# $data (one test point), $out for outputs, the calm configuration $tiny (SGD,
# small lr, 16-image batches: ranks and replicas differ from one process only
# by the order of fp32 sums), and q DB SQL, a read-only query on a run store.
data=$TMP_ROOT/data
out=$TMP_ROOT/out
export XDG_CACHE_HOME="$TMP_ROOT/cache"
"$FLUKEWATCH" synth --out "$data" --whales 24 --size 128x64 --threads 2 >/dev/null 2>&1
ok_if "synth a tiny dataset" test -f "$data/train.csv"

tiny="input=64x32 width=0.25 embedding=32 sampler.p=4 sampler.k=4 threads=1 loader_threads=1
 eval_every=1 epochs=1 dropout=0 optimizer=sgd head=softmax lr=0.001"

q() { # q DB SQL: read-only query on a run store
    "$PYTHON_REF" - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
for row in db.execute(sys.argv[2]):
    print(" ".join(str(v) for v in row))
PY
}
