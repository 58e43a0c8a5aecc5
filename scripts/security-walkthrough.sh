#!/usr/bin/env bash
# Runs the deployment of docs/security.md ("Deployment: three nodes with
# mutual TLS, tokens and Mesos credentials") as written, on one Linux
# machine, and checks every boundary it claims. Each host is a network
# namespace with the documentation's address on a private bridge, so the
# nodes really listen on non-loopback addresses:
#
#   admin 198.51.100.100   m 198.51.100.5 (mesos-sim)   n1-n3 198.51.100.11-13 (sprint)
#   n4 198.51.100.14 (joins at the end, as "Add a node" says)
#
# Each host gets its own /etc/sprint and /var/lib/sprint (or /etc/mesos-sim,
# /var/lib/mesos-sim): bind mounts of directories under a temporary work dir,
# inside that host's `ip netns exec`. sprint runs as the user "sprint",
# mesos-sim as root.
#
#   make build && sudo scripts/security-walkthrough.sh     # KEEP=1 keeps the work dir and logs
#
# Needs root, iproute2 (ip netns), util-linux (setpriv) and curl. It
# creates the namespaces sw-*, the user "sprint" and the four mount-point
# directories when they are missing, and removes what it created on exit.
# The namespaces have no route out: no packet leaves the machine. Not part
# of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BIN=${BIN:-$REPO/bin}
[ "$(id -u)" = 0 ] || { echo "security-walkthrough: needs root (network namespaces, bind mounts, setpriv)" >&2; exit 2; }
for b in sprint sprintctl mesos-sim; do
  [ -x "$BIN/$b" ] || { echo "security-walkthrough: $BIN/$b missing: run make build" >&2; exit 2; }
done
for c in ip setpriv curl; do
  command -v $c >/dev/null || { echo "security-walkthrough: $c not found" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/security-walkthrough.XXXXXX)
chmod 755 "$WORK"
HOSTS="admin m n1 n2 n3 n4"
declare -A ADDR=([admin]=198.51.100.100 [m]=198.51.100.5 [n1]=198.51.100.11 [n2]=198.51.100.12 [n3]=198.51.100.13 [n4]=198.51.100.14)
pids=()
created_user=
created_dirs=()

cleanup() {
  set +e
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  # Anything else still running in the namespaces was started here too.
  for h in $HOSTS; do
    for p in $(ip netns pids "sw-$h" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
  done
  sleep 1
  for h in $HOSTS lan; do ip netns del "sw-$h" 2>/dev/null; done
  for d in "${created_dirs[@]}"; do rmdir "$d" 2>/dev/null; done
  [ -n "$created_user" ] && userdel sprint 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

passed=0
ok() { passed=$((passed + 1)); echo "  ok: $1"; }
fail() { echo "FAIL: $1" >&2; shift; printf '%s\n' "$@" >&2; exit 1; }
# expect NAME WANT OUTPUT: OUTPUT must contain WANT.
expect() { case "$3" in *"$2"*) ok "$1" ;; *) fail "$1: want output containing: $2" "got: $3" ;; esac; }

# --- the hosts -------------------------------------------------------------
getent passwd sprint >/dev/null || { useradd --system --home-dir /var/lib/sprint --no-create-home --shell /usr/sbin/nologin sprint; created_user=1; }
for d in /etc/sprint /var/lib/sprint /etc/mesos-sim /var/lib/mesos-sim; do
  [ -e "$d" ] || { mkdir "$d"; created_dirs+=("$d"); }
done
mkdir -p "$WORK/bin" "$WORK/admin"
cp "$BIN/sprint" "$BIN/sprintctl" "$BIN/mesos-sim" "$WORK/bin/"
chmod 755 "$WORK/bin" "$WORK/bin"/*
ip netns add sw-lan
ip -n sw-lan link add br0 type bridge
ip -n sw-lan link set br0 up
for h in $HOSTS; do
  mkdir -p "$WORK/$h/etc" "$WORK/$h/lib"
  ip netns add "sw-$h"
  ip link add "sw-$h-a" type veth peer name "sw-$h-b"
  ip link set "sw-$h-a" netns "sw-$h"
  ip link set "sw-$h-b" netns sw-lan
  ip -n sw-lan link set "sw-$h-b" master br0 up
  ip -n "sw-$h" link set "sw-$h-a" name eth0
  ip -n "sw-$h" addr add "${ADDR[$h]}/24" dev eth0
  ip -n "sw-$h" link set eth0 up
  ip -n "sw-$h" link set lo up
done

# on HOST CMD...: run CMD on a host, with its own /etc and /var/lib dirs.
# With EXEC=1 (only in a background subshell: `EXEC=1 on … &`) it replaces
# the subshell, so that $! is CMD's process id.
on() {
  local h=$1; shift
  ${EXEC:+exec} ip netns exec "sw-$h" sh -c '
    h=$1 W=$2; shift 2
    case $h in
      m) mount --bind "$W/m/etc" /etc/mesos-sim; mount --bind "$W/m/lib" /var/lib/mesos-sim ;;
      admin) cd "$W/admin" ;;
      *) mount --bind "$W/$h/etc" /etc/sprint; mount --bind "$W/$h/lib" /var/lib/sprint ;;
    esac
    PATH=$W/bin:$PATH; export PATH
    exec "$@"' on "$h" "$WORK" "$@"
}
PEERS=n1=198.51.100.11:9091=https://198.51.100.11:9090,n2=198.51.100.12:9091=https://198.51.100.12:9090,n3=198.51.100.13:9091=https://198.51.100.13:9090
# start_node N: step 4 of the walkthrough on node nN, in the background;
# n4 joins the running cluster instead.
start_node() {
  local i=$1 members=(--peers "$PEERS")
  [ "$i" = 4 ] && members=(--join https://198.51.100.11:9090)
  EXEC=1 on "n$i" setpriv --reuid=sprint --regid=sprint --init-groups \
    sprint --node-id "n$i" --data-dir /var/lib/sprint \
      --listen "198.51.100.1$i:9090" --raft-addr "198.51.100.1$i:9091" "${members[@]}" \
      --raft-tls-cert "/etc/sprint/n$i.crt" --raft-tls-key "/etc/sprint/n$i.key" --raft-tls-ca /etc/sprint/ca.crt \
      --tls-cert "/etc/sprint/n$i.crt" --tls-key "/etc/sprint/n$i.key" --tls-ca /etc/sprint/ca.crt \
      --token-file /etc/sprint/token \
      --mesos-master http://198.51.100.5:5050 --mesos-principal sprint --mesos-secret-file /etc/sprint/mesos-secret \
      --framework-user nobody >>"$WORK/n$i.log" 2>&1 &
  NODE_PID[$i]=$!
  pids+=($!)
}
declare -A NODE_PID
# wait_ready N CA: until node nN answers /readyz over HTTPS.
wait_ready() {
  for _ in $(seq 1 150); do
    on admin curl -fsS --cacert "$2" -o /dev/null "https://198.51.100.1$1:9090/readyz" 2>/dev/null && return 0
    sleep 0.2
  done
  fail "n$1 not ready" "$(tail -20 "$WORK/n$1.log")"
}
# restart_node N CA: a rolling-restart step.
restart_node() {
  kill -TERM "${NODE_PID[$1]}" || fail "n$1 is not running" "$(tail -20 "$WORK/n$1.log")"
  for _ in $(seq 1 100); do kill -0 "${NODE_PID[$1]}" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "${NODE_PID[$1]}" 2>/dev/null || fail "n$1 did not stop on SIGTERM"
  start_node "$1"
  wait_ready "$1" "$2"
}
# admin CMD: a shell command on the admin machine with sprintctl's settings.
# Its exit code is not looked at: the checks read its output.
admin() { on admin sh -c "export SPRINT_TOKEN=\$(cat token); $1" 2>&1 || true; }

echo "== 1. certificates, token and Mesos credential (admin)"
out=$(on admin sh -c '
  sprint certs --dir certs --nodes n1,n2,n3 --hosts 198.51.100.11,198.51.100.12,198.51.100.13
  umask 077
  head -c 32 /dev/urandom | base64 > token
  head -c 32 /dev/urandom | base64 > mesos-secret
  printf "{\"credentials\":[{\"principal\":\"sprint\",\"secret\":\"%s\"}]}\n" "$(cat mesos-secret)" > mesos-credentials.json
  stat -c "%a %n" certs certs/ca.key certs/n1.key certs/ca.crt token' 2>&1)
echo "$out"
expect "sprint certs writes the CA" "wrote certs/ca.crt and certs/ca.key" "$out"
expect "certs dir 0700" "700 certs" "$out"
expect "CA key 0600" "600 certs/ca.key" "$out"
expect "node key 0600" "600 certs/n1.key" "$out"

echo "== 2. install the files (each node)"
for i in 1 2 3; do
  on "n$i" sh -c "
    cd '$WORK/admin'
    install -d -m 0700 -o sprint -g sprint /etc/sprint /var/lib/sprint
    install -m 0644 certs/ca.crt certs/n$i.crt /etc/sprint/
    install -m 0600 -o sprint -g sprint certs/n$i.key token mesos-secret /etc/sprint/"
done
ok "files installed on n1-n3"

echo "== 3. the Mesos master (m)"
on m sh -c "install -d -m 0700 /etc/mesos-sim && install -m 0600 '$WORK/admin/mesos-credentials.json' /etc/mesos-sim/credentials"
out=$(on m mesos-sim --listen 198.51.100.5:5050 --work-dir /var/lib/mesos-sim 2>&1 || true)
expect "mesos-sim refuses a non-loopback --listen without authentication" "is not a loopback address" "$out"
EXEC=1 on m mesos-sim --listen 198.51.100.5:5050 --agents 2 --work-dir /var/lib/mesos-sim \
  --credentials /etc/mesos-sim/credentials \
  --authenticate-http-frameworks --authenticate-http-readonly --authenticate-http-readwrite >"$WORK/mesos-sim.log" 2>&1 &
pids+=($!)

echo "== 4. the sprint nodes"
run_as_sprint() { on n1 setpriv --reuid=sprint --regid=sprint --init-groups sprint --node-id n1 --data-dir /var/lib/sprint "$@" 2>&1 || true; }
expect "no token file on a non-loopback --listen: refused" "refusing to listen on a non-loopback address without --token-file" \
  "$(run_as_sprint --listen 198.51.100.11:9090 --raft-addr 198.51.100.11:9091)"
expect "no Raft TLS on a non-loopback --raft-addr: refused" "refusing a non-loopback Raft address without mutual TLS" \
  "$(run_as_sprint --listen 198.51.100.11:9090 --raft-addr 198.51.100.11:9091 --token-file /etc/sprint/token)"
on n1 chmod 644 /etc/sprint/token
expect "a token file others can read: refused" "permissions 0644 are too open" \
  "$(run_as_sprint --listen 198.51.100.11:9090 --raft-addr 198.51.100.11:9091 --token-file /etc/sprint/token)"
on n1 chmod 600 /etc/sprint/token
for i in 1 2 3; do start_node "$i"; done
for i in 1 2 3; do wait_ready "$i" certs/ca.crt; done
expect "n1 runs Raft over mutual TLS" 'msg="raft port uses mutual TLS" certificate_node=n1' "$(cat "$WORK/n1.log")"
expect "n1 serves HTTPS with tokens" 'tls=true auth=true' "$(cat "$WORK/n1.log")"
expect "mesos-sim advertises its address" 'hostname=198.51.100.5' "$(cat "$WORK/mesos-sim.log")"
for i in 1 2 3; do
  expect "n$i data dir is 0700 and sprint's" "700 sprint" "$(stat -c '%a %U' "$WORK/n$i/lib")"
done

echo "== 5. use it (admin)"
export_env='export SPRINT_SERVER=https://198.51.100.12:9090 SPRINT_CA_FILE=certs/ca.crt;'
out=$(admin "$export_env sprintctl cluster status")
echo "$out"
expect "three voters, one leader" "n3   Voter      198.51.100.13:9091   https://198.51.100.13:9090" "$out"
expect "the policy in force" "Privileged:         refused" "$out"
out=$(admin "$export_env sprintctl apply -f '$REPO/manifests/examples/hello.yaml' && sprintctl wait run hello --for=phase=Succeeded --timeout 1m && sprintctl logs hello")
echo "$out"
expect "a Run through a follower, over HTTPS with a token, on the authenticated master" "hello from sprint on 198.51.100.5" "$out"
out=$(ls -l "$WORK"/m/lib/slaves/*/frameworks/*/executors/hello.*/runs/*/stdout)
expect "the task ran as --framework-user" " nobody " "$out"

echo "== 6. check each boundary"
out=$(admin 'curl -sS --cacert certs/ca.crt https://198.51.100.11:9090/api/v1/runs')
expect "API without a token: 401" '"code":401' "$out"
out=$(admin 'curl -sS --cacert certs/ca.crt -H "Authorization: Bearer guess" -o /dev/null -w "%{http_code}" https://198.51.100.11:9090/api/v1/runs')
expect "API with a wrong token: 401" "401" "$out"
out=$(admin 'curl -sS http://198.51.100.11:9090/api/v1/runs')
expect "API in plain HTTP: refused" "Client sent an HTTP request to an HTTPS server." "$out"
for p in /healthz /readyz /status/ping; do
  expect "$p stays open" "200" "$(admin "curl -sS --cacert certs/ca.crt -o /dev/null -w '%{http_code}' https://198.51.100.11:9090$p")"
done
for p in /metrics /version /api/v1/cluster /api/v1/policy; do
  expect "$p needs a token" "401" "$(admin "curl -sS --cacert certs/ca.crt -o /dev/null -w '%{http_code}' https://198.51.100.11:9090$p")"
done
out=$(admin 'curl -sS --cacert certs/ca.crt https://198.51.100.11:9091/')
echo "$out"
expect "Raft without a client certificate: handshake refused" "certificate required" "$out"
admin 'sprint certs --dir other --nodes n1 >/dev/null; curl -sS --cacert certs/ca.crt --cert other/n1.crt --key other/n1.key https://198.51.100.11:9091/'
expect "the node logs the refusal" "raft peer refused: TLS handshake failed" "$(cat "$WORK/n1.log")"
expect "... of a client without a certificate" "client didn't provide a certificate" "$(cat "$WORK/n1.log")"
expect "... and of a certificate of another CA" "certificate signed by unknown authority" "$(cat "$WORK/n1.log")"
out=$(admin 'curl -sS --cacert certs/ca.crt -H "Authorization: Bearer $SPRINT_TOKEN" https://198.51.100.11:9090/metrics' | awk '$1 == "sprint_raft_tls_handshake_failures_total" {print $2}')
[ "${out:-0}" -ge 2 ] && ok "refusals are counted ($out)" || fail "refusals are counted" "sprint_raft_tls_handshake_failures_total: $out"
M=http://198.51.100.5:5050
out=$(admin "curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data '{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":{\"user\":\"root\",\"name\":\"x\"}}}' $M/api/v1/scheduler")
expect "Mesos SUBSCRIBE without the credential: 401" "401" "$out"
for p in /master/state '/files/read?path=/etc/passwd'; do
  expect "Mesos $p without the credential: 401" "401" "$(admin "curl -sS -o /dev/null -w '%{http_code}' '$M$p'")"
done
expect "Mesos /sim/v1 without the credential: 401" "401" "$(admin "curl -sS -o /dev/null -w '%{http_code}' -X POST --data '{}' $M/sim/v1/connections/drop")"
expect "Mesos /health stays open" "200" "$(admin "curl -sS -o /dev/null -w '%{http_code}' $M/health")"
cat >"$WORK/admin/rooted.yaml" <<'EOF'
apiVersion: sprint/v1
kind: Run
metadata:
  name: rooted
spec:
  command: cat /host/etc/shadow
  cpus: 0.1
  mem: 32
  container:
    type: DOCKER
    docker:
      image: busybox:1.36
      parameters:
        - {key: privileged, value: "true"}
        - {key: pid, value: host}
    volumes:
      - {containerPath: /host, hostPath: /}
  uris:
    - {value: "file:///etc/shadow"}
---
apiVersion: sprint/v1
kind: Run
metadata:
  name: as-root
spec:
  command: id
  user: root
  cpus: 0.1
  mem: 32
EOF
out=$(admin "$export_env sprintctl apply -f rooted.yaml; echo exit=\$?; sprintctl get runs rooted")
echo "$out"
for want in 'parameters[0]: "privileged=true"' 'parameters[1]: "pid=host"' 'hostPath: "/" is not under an allowed host path' \
  'scheme "file" is not allowed' 'spec.user: "root" runs the task as root' 'exit=1' 'Run "rooted" not found'; do
  expect "policy: $want" "$want" "$out"
done
out=$(admin "$export_env printf 'apiVersion: sprint/v1\nkind: Run\nmetadata: {name: as-daemon}\nspec: {command: id, user: daemon, cpus: 0.1, mem: 32}\n' | sprintctl apply -f - && sprintctl wait run as-daemon --for=phase=Succeeded --timeout 1m && sprintctl logs as-daemon")
expect "known gap: spec.user may name another account (daemon)" "uid=1(daemon)" "$out"

echo "== certificates: renew n2 with the same CA, rolling restart"
admin 'mkdir -p retired && mv certs/n2.crt certs/n2.key retired/ && sprint certs --dir certs --nodes n2 --hosts 198.51.100.11,198.51.100.12,198.51.100.13' >/dev/null
on n2 sh -c "cd '$WORK/admin' && install -m 0644 certs/n2.crt /etc/sprint/ && install -m 0600 -o sprint -g sprint certs/n2.key /etc/sprint/"
restart_node 2 "$WORK/admin/certs/ca.crt"
expect "n2 back with its new certificate" "n2   Voter" "$(admin "$export_env sprintctl cluster status")"
admin 'curl -sS --cacert certs/ca.crt --cert retired/n2.crt --key retired/n2.key https://198.51.100.11:9091/'
expect "known gap: the retired certificate still completes a handshake (raft reads the bytes)" "unknown rpc type" "$(cat "$WORK/n1.log")"

echo "== certificates: replace the CA through a bundle, three rolling restarts"
admin 'sprint certs --dir certs2 --nodes n1,n2,n3 --hosts 198.51.100.11,198.51.100.12,198.51.100.13 >/dev/null && cat certs/ca.crt certs2/ca.crt > ca-bundle.crt'
for i in 1 2 3; do on "n$i" install -m 0644 "$WORK/admin/ca-bundle.crt" /etc/sprint/ca.crt; restart_node "$i" "$WORK/admin/ca-bundle.crt"; done
for i in 1 2 3; do
  on "n$i" sh -c "install -m 0644 '$WORK/admin/certs2/n$i.crt' /etc/sprint/ && install -m 0600 -o sprint -g sprint '$WORK/admin/certs2/n$i.key' /etc/sprint/"
  restart_node "$i" "$WORK/admin/ca-bundle.crt"
done
for i in 1 2 3; do
  on "n$i" install -m 0644 "$WORK/admin/certs2/ca.crt" /etc/sprint/ca.crt
  restart_node "$i" "$WORK/admin/certs2/ca.crt"
  out=$(admin "sprintctl --server https://198.51.100.1$i:9090 --certificate-authority certs2/ca.crt get runs hello")
  expect "n$i serves the Runs under the new CA" "Succeeded" "$out"
done
before=$(grep -c "certificate signed by unknown authority" "$WORK/n1.log")
admin 'curl -sS --cacert certs2/ca.crt --cert certs/n1.crt --key certs/n1.key https://198.51.100.11:9091/'
after=$(grep -c "certificate signed by unknown authority" "$WORK/n1.log")
[ "$after" -gt "$before" ] && ok "a node certificate of the old CA is refused" || fail "a node certificate of the old CA is refused" "$(tail -5 "$WORK/n1.log")"
refused=$(cat "$WORK"/n2.log "$WORK"/n3.log | grep -c 'raft peer refused' || true)
[ "$refused" = 0 ] && ok "no node refused another during the rotation" || fail "no node refused another during the rotation" "$(grep -h 'raft peer refused' "$WORK"/n2.log "$WORK"/n3.log)"

echo "== add a node: n4 joins with a certificate of the (new) CA"
admin 'sprint certs --dir certs2 --nodes n4 --hosts 198.51.100.14' >/dev/null
on n4 sh -c "
  cd '$WORK/admin'
  install -d -m 0700 -o sprint -g sprint /etc/sprint /var/lib/sprint
  install -m 0644 certs2/ca.crt certs2/n4.crt /etc/sprint/
  install -m 0600 -o sprint -g sprint certs2/n4.key token mesos-secret /etc/sprint/"
start_node 4
wait_ready 4 "$WORK/admin/certs2/ca.crt"
out=$(admin "sprintctl --server https://198.51.100.14:9090 --certificate-authority certs2/ca.crt cluster status")
echo "$out"
expect "n4 joined as a voter" "n4   Voter      198.51.100.14:9091   https://198.51.100.14:9090" "$out"
expect "n4 serves the Runs" "Succeeded" "$(admin "sprintctl --server https://198.51.100.14:9090 --certificate-authority certs2/ca.crt get runs hello")"

echo "security walkthrough: $passed checks passed"
