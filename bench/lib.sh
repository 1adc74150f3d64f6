# Shared by bench/run and bench/run-tls: ports, wrk, and the statistics of the rounds.
# Expects $secs (seconds per measurement) and an associative array R.

need() { command -v "$1" >/dev/null 2>&1; }
record() { R[$1,$2]+="$3;"; }
# A port already taken before the bench starts would be measured in the server's place.
free_port() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        echo "bench: something already listens on 127.0.0.1:$1; stop it first" >&2
        exit 1
    fi
}
wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench: nothing listens on $1" >&2; return 1
}

# wrk output -> "req/s p99_ms MB/s"
measure() { # url connections [extra wrk args...]
    local url=$1 conns=$2; shift 2
    local threads=2; (( conns < 2 )) && threads=1
    local out
    out=$(timeout $((secs + 20)) wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@" "$url" 2>&1) || true
    awk '
        /Requests\/sec/ {rps=$2}
        /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p99=v}
        /Transfer\/sec/ {t=$2; if (t ~ /GB/) {sub(/GB/,"",t); t*=1024} else if (t ~ /MB/) {sub(/MB/,"",t)} else if (t ~ /KB/) {sub(/KB/,"",t); t/=1024}; mb=t}
        END {printf "%s %s %s\n", (rps==""?0:rps), (p99==""?0:p99), (mb==""?0:mb)}' <<<"$out"
}
# values SERVER KEY FIELD -> one number per round, space-separated
values() { tr ';' '\n' <<<"${R[$1,$2]:-}" | awk -v f="$3" 'NF {printf "%s ", $f}'; }
# stats "v1 v2 ..." -> "median min max" (median of an even count: the lower middle)
stats() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "0 0 0"; exit} printf "%s %s %s\n", v[int((NR+1)/2)], v[1], v[NR]}'; }
median() { stats "$1" | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "0" }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v >= 100) printf "%.0f", v; else printf "%.2f", v }'; }
