package esxcli

import "strings"

// kind is the esxcli type of a field. It drives alignment in the table
// formatter (integers and booleans are right-aligned, §0.2 rule 4) and the
// type names the xml and keyvalue formatters print.
type kind uint8

const (
	kindString kind = iota
	kindInteger
	kindBoolean
	kindStringList
)

// xmlName is the element name of a scalar of this kind in xml output, and
// the type suffix in keyvalue output.
func (k kind) xmlName() string {
	switch k {
	case kindInteger:
		return "integer"
	case kindBoolean:
		return "boolean"
	default:
		return "string"
	}
}

// column is one field of a structure.
type column struct {
	// name is the display name: the table header, the `Key: ` of the
	// structure forms and the json key ("Mac Address").
	name string
	kind kind
	// unit is appended to the value in the table form only (the neighbor
	// list's "1139 sec"); machine formats carry the bare integer.
	unit string
}

// key is the field's internal name, used by the xml, csv and keyvalue
// formatters: the display name without spaces ("Active Clients" ->
// "ActiveClients", "VLAN ID" -> "VLANID"), as the VERIFIED csv sample shows.
func (c column) key() string {
	return strings.NewReplacer(" ", "", "-", "").Replace(c.name)
}

// shape is how the default formatter lays a result out.
type shape uint8

const (
	// shapeTable is a list of structures printed as a table (§0.2 rules 1-5).
	shapeTable shape = iota
	// shapeObjects is a list of structures without a table form (§0.2 rule
	// 7): each object is named by its first field.
	shapeObjects
	// shapeStruct is one structure (§0.2 rule 6); it has exactly one row.
	shapeStruct
)

// result is what a command returns: typed rows that every formatter
// renders, so the command itself never decides a layout.
type result struct {
	shape shape
	// typeName is the structure's type: xml's typeName attribute and the
	// keyvalue prefix.
	typeName string
	cols     []column
	// rows hold one value per column: string, int, bool or []string,
	// matching the column's kind.
	rows [][]any
}
