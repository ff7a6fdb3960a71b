package esxcli

import (
	"strings"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
)

func systemNamespace(h *vmkernel.Host) *namespace {
	return ns("system", "VMKernel system properties and commands for configuring properties of the kernel core system and related system services.",
		ns("hostname", "Operations pertaining the network name of the ESX host.",
			&command{name: "get", desc: "Get the host, domain or fully qualified name of the ESX host.",
				run: func(c *call) (*result, error) { return hostnameGet(h) }},
		),
		ns("version", "Commands to get version information.",
			&command{name: "get", desc: "Display the product name, version and build information.",
				run: func(c *call) (*result, error) { return versionGet(h) }},
		),
	)
}

// versionGet prints §2.9's structure; the build reads "Releasebuild-N" as
// on every capture. The struct type VersionGet is VERIFIED (keyvalue).
func versionGet(h *vmkernel.Host) (*result, error) {
	v := h.Version()
	return &result{shape: shapeStruct, typeName: "VersionGet",
		cols: []column{{name: "Product"}, {name: "Version"}, {name: "Build"}, {name: "Update"}, {name: "Patch"}},
		rows: [][]any{{v.Product, v.Version, "Releasebuild-" + v.Build, v.Update, v.Patch}},
	}, nil
}

// hostnameGet splits the configured name at its first dot (field names and
// the HostnameGet type INFERRED, §8.3). A host configured with a short name
// has an empty domain and its short name as FQDN.
func hostnameGet(h *vmkernel.Host) (*result, error) {
	fqdn := h.Hostname()
	host, domain, _ := strings.Cut(fqdn, ".")
	return &result{shape: shapeStruct, typeName: "HostnameGet",
		cols: []column{{name: "Domain Name"}, {name: "Fully Qualified Domain Name"}, {name: "Host Name"}},
		rows: [][]any{{domain, fqdn, host}},
	}, nil
}
