# test/openwrt/rules.mk - a stand-in for OpenWrt's rules.mk, for
# test/run-openwrt-test.sh: just the variables contrib/openwrt/Makefile
# uses, with the build host's tools as the "target" toolchain.
TARGET_CC       ?= gcc
TARGET_AR       ?= ar
TARGET_CFLAGS   ?= -Os -pipe
TARGET_CPPFLAGS ?=
TARGET_LDFLAGS  ?=
INSTALL_DIR  := install -d -m0755
INSTALL_BIN  := install -m0755
INSTALL_DATA := install -m0644
INSTALL_CONF := install -m0600
SED := sed -i -e
TAR := tar
