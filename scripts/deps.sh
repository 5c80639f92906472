#!/usr/bin/env bash
# deps.sh installs the outside tools the tests check our output with:
# qpdf, pdfsig (poppler-utils), openssl, a JDK with Bouncy Castle and PDFBox, pdfcpu
# Chromium (with a CJK font) for the citizen pages, a MinIO server, and iproute2,
# HAProxy and curl for the cluster of scripts/cluster.sh. It is idempotent and does nothing slow when every
# tool is already there: apt-get update runs only if a package is missing.
set -euo pipefail

cd "$(dirname "$0")/.."

BIN="${ESEAL_BIN:-$HOME/.cache/eseal/bin}"
mkdir -p "$BIN"

# Debian packages, each with the file that shows it is installed. The JDK is
# checked by command, not by package name: any JDK with javac will do.
declare -A want=(
	[qpdf]="cmd:qpdf"
	[poppler-utils]="cmd:pdfsig cmd:pdftotext cmd:pdftoppm"
	[libreoffice-writer-nogui]="cmd:soffice"
	[openssl]="cmd:openssl"
	[default-jdk-headless]="cmd:javac"
	[libbcprov-java]="file:/usr/share/java/bcprov.jar"
	[libbcpkix-java]="file:/usr/share/java/bcpkix.jar"
	[libbcutil-java]="file:/usr/share/java/bcutil.jar"
	[libpdfbox2-java]="file:/usr/share/java/pdfbox2.jar file:/usr/share/java/fontbox2.jar file:/usr/share/java/commons-logging.jar"
	[chromium]="cmd:chromium"
	[zbar-tools]="cmd:zbarimg"
	[fonts-wqy-zenhei]="file:/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
	# scripts/cluster.sh and its test: network namespaces, the load balancer, health checks.
	[iproute2]="cmd:ip"
	[haproxy]="cmd:haproxy"
	[curl]="cmd:curl"
)
missing=()
for pkg in "${!want[@]}"; do
	for check in ${want[$pkg]}; do
		case "$check" in
		cmd:*) command -v "${check#cmd:}" >/dev/null 2>&1 || { missing+=("$pkg"); break; } ;;
		file:*) [ -e "${check#file:}" ] || { missing+=("$pkg"); break; } ;;
		esac
	done
done

if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps: installing ${missing[*]}" >&2
	as_root=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || {
			echo "deps: need root (or sudo) to install ${missing[*]}" >&2
			exit 1
		}
		as_root=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${as_root[@]}" apt-get update -qq
	# bcutil split out of bcpkix in Bouncy Castle 1.69; older releases have no such package.
	pkgs=()
	for pkg in "${missing[@]}"; do
		if [ "$pkg" = libbcutil-java ] && ! apt-cache show libbcutil-java >/dev/null 2>&1; then
			continue
		fi
		pkgs+=("$pkg")
	done
	"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

# pdfcpu: the tests run it as a command (linked into a test binary it slows
# fuzzing a thousandfold); go.mod pins its version with a tool directive.
pdfcpu_version=$(go list -m -f '{{.Version}}' github.com/pdfcpu/pdfcpu)
if ! "$BIN/pdfcpu" version 2>/dev/null | grep -q "${pdfcpu_version#v}"; then
	echo "deps: building pdfcpu $pdfcpu_version" >&2
	go build -o "$BIN/pdfcpu" github.com/pdfcpu/pdfcpu/cmd/pdfcpu
fi

# MinIO: scripts/minio.sh builds it into $BIN only when it is missing.
if [ -x scripts/minio.sh ]; then
	scripts/minio.sh
else
	echo "deps: scripts/minio.sh not found; MinIO tests will not find a server" >&2
fi
