# test/openwrt/package.mk - a stand-in for OpenWrt's include/package.mk,
# enough to run the recipes of contrib/openwrt/Makefile on the build
# host (test/run-openwrt-test.sh):
#   make -f contrib/openwrt/Makefile TOPDIR=test/openwrt \
#       INCLUDE_DIR=test/openwrt DL_DIR=... BUILD_DIR=... IDIR=... install
# download   every source is in DL_DIR with its hash (no network: the
#            test puts the files there)
# prepare    Build/Prepare (the tarball unpacked into PKG_BUILD_DIR)
# compile    Build/Compile
# install    Package/NAME/install into IDIR
# info       DEPENDS and USERID of the package
# A define's recipe lines are expanded twice, as OpenWrt's are: once by
# the call of BuildPackage, once when the recipe runs.
PKG_BUILD_DIR ?= $(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
PKG_JOBS ?=
DOWNLOADS = $(PKG_SOURCE)=$(PKG_HASH)

define Build/Prepare/Default
	mkdir -p $(BUILD_DIR)
	$(TAR) -C $(BUILD_DIR) -xzf $(DL_DIR)/$(PKG_SOURCE)
endef

define Download
$(eval $(Download/$(1)))
DOWNLOADS += $(FILE)=$(HASH)
endef

define BuildPackage
$(eval $(Package/$(1)))
download:
	@for d in $$(DOWNLOADS); do \
		f=$$$${d%%=*} h=$$$${d#*=}; \
		test -f "$(DL_DIR)/$$$$f" || { echo "download: $$$$f missing"; exit 1; }; \
		[ "$$$$h" = skip ] || echo "$$$$h  $(DL_DIR)/$$$$f" | sha256sum -c --quiet || exit 1; \
		echo "download: $$$$f ($$$${h})"; \
	done
prepare: download
$(call Build/Prepare)
compile: prepare
$(call Build/Compile)
install: compile
	rm -rf $(IDIR) && mkdir -p $(IDIR)
$(call Package/$(1)/install,$(IDIR))
info:
	@echo 'DEPENDS=$(DEPENDS)'
	@echo 'USERID=$(USERID)'
endef
