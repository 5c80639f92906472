package transfer

import (
	"bytes"
	"encoding/xml"
)

// FormatVersion names this package format in the description, catalogue
// and register; Check refuses other versions.
const FormatVersion = "eseal-transfer/1"

// Paths of the package's fixed files, relative to the bag's directory.
const (
	DescriptionPath = "data/description.xml" // 说明文件
	CataloguePath   = "data/catalogue.xml"   // 目录文件
	RegisterDir     = "data/register/"       // 移交登记表 and its signature
	RegisterPath    = RegisterDir + "register.xml"
	SignaturePath   = RegisterDir + "register.sig" // SM2 signature (DER) over register.xml
	SignerPath      = RegisterDir + "signer.pem"   // signer certificate, then its chain
)

// Description is the description file (说明文件) of DA/T 93: who transfers
// what, how many, in which formats and layout.
type Description struct {
	XMLName      xml.Name        `xml:"说明文件"`
	Version      string          `xml:"版本,attr"`
	PackageID    string          `xml:"交接工作名称"`
	Transferring string          `xml:"移交单位"`
	Receiving    string          `xml:"接收单位,omitempty"`
	Fonds        string          `xml:"全宗号"`
	Content      string          `xml:"内容描述"`
	Years        string          `xml:"年度范围"`
	Count        string          `xml:"件数"`
	Formats      string          `xml:"文件格式"`
	Standards    string          `xml:"依据标准"`
	RefCodeRule  string          `xml:"档号编制规则"`
	Structure    []StructureNote `xml:"信息包结构>条目"`
	Created      string          `xml:"生成时间"`
	Software     string          `xml:"生成软件"`
}

// StructureNote explains one path of the package.
type StructureNote struct {
	Path    string `xml:"路径,attr"`
	Meaning string `xml:",chardata"`
}

// Catalogue is the catalogue file (目录文件): one entry per item.
type Catalogue struct {
	XMLName xml.Name         `xml:"目录文件"`
	Version string           `xml:"版本,attr"`
	Fonds   string           `xml:"全宗号,attr"`
	Count   string           `xml:"件数,attr"`
	Entries []CatalogueEntry `xml:"条目"`
}

// CatalogueEntry describes one item of the catalogue. File and Metadata are
// paths under data/.
type CatalogueEntry struct {
	Index       string `xml:"序号"`
	RefCode     string `xml:"档号"`
	Responsible string `xml:"责任者"`
	Title       string `xml:"题名"`
	DocumentNo  string `xml:"文件编号,omitempty"`
	Date        string `xml:"日期"`
	Retention   string `xml:"保管期限"`
	ItemCode    string `xml:"分类号,omitempty"`
	File        string `xml:"文件名"`
	Metadata    string `xml:"元数据文件"`
}

// Metadata is one item's metadata file, with the element names of
// DA/T 46-2009 (文书类电子文件元数据方案) and, under 政务服务, the case elements
// of GB/T 42727. All values are text so that Check can judge malformed ones.
type Metadata struct {
	XMLName      xml.Name      `xml:"电子文件元数据"`
	Standard     string        `xml:"标准,attr"`
	Level        string        `xml:"聚合层次"`
	Unit         string        `xml:"来源>立档单位名称"`
	DocumentID   string        `xml:"电子文件号"`
	RefCode      string        `xml:"档号"`
	Fonds        string        `xml:"全宗号"`
	Year         string        `xml:"年度"`
	Retention    string        `xml:"保管期限"`
	ItemNo       string        `xml:"件号"`
	Title        string        `xml:"内容描述>题名"`
	DocumentNo   string        `xml:"内容描述>文件编号,omitempty"`
	Responsible  string        `xml:"内容描述>责任者"`
	Date         string        `xml:"内容描述>日期"`
	Pieces       string        `xml:"形式特征>件数"`
	Format       string        `xml:"电子属性>格式信息"`
	FileName     string        `xml:"电子属性>计算机文件名"`
	Size         string        `xml:"电子属性>计算机文件大小"`
	Creator      string        `xml:"电子属性>文档创建程序"`
	OriginalName string        `xml:"电子属性>原始文件名,omitempty"`
	Digests      []DigestValue `xml:"数字摘要"`

	// InputSize and InputSM3 describe the file the item's own stamping
	// sealed (用印前文件), which the stamped PDF begins with: what a grant
	// for one document names (eseal's extension; absent in packages made
	// before it).
	InputSize string `xml:"用印前文件>计算机文件大小,omitempty"`
	InputSM3  string `xml:"用印前文件>数字摘要,omitempty"`

	Signatures  []SignatureXML `xml:"电子签名"`
	ItemCode    string         `xml:"政务服务>事项编码,omitempty"`
	CaseNo      string         `xml:"政务服务>办件编号,omitempty"`
	Applicant   string         `xml:"政务服务>申请人,omitempty"`
	Authz       string         `xml:"授权>授权标识,omitempty"`
	AuthzBy     string         `xml:"授权>授权人,omitempty"`
	AuthzAt     string         `xml:"授权>授权时间,omitempty"`
	Evidence    []EvidenceXML  `xml:"授权>授权凭证"`
	RetainUntil string         `xml:"保管期限截止日期"`
}

// DigestValue is a digest with its algorithm ("SM3" or "SHA-256").
type DigestValue struct {
	Algorithm string `xml:"算法,attr"`
	Value     string `xml:",chardata"`
}

// SignatureXML holds DA/T 46's electronic-signature elements for one seal.
type SignatureXML struct {
	Rule      string `xml:"签名规则"`
	Time      string `xml:"签名时间"`
	Signer    string `xml:"签名人"`
	SealID    string `xml:"印章标识"`
	SealName  string `xml:"印章名称"`
	CertRef   string `xml:"证书引证"`
	Algorithm string `xml:"签名算法标识"`
	ByteRange string `xml:"签名范围"`
	SignedSM3 string `xml:"签名摘要"`
	// AuthzID names the authorization the seal was used under.
	AuthzID string `xml:"授权标识,omitempty"`
}

// Register is the transfer register (移交登记表): counts, volume, the
// package digest and the results of the checks run before transfer. It is
// signed (SignaturePath) by the organisation's SM2 key.
type Register struct {
	XMLName      xml.Name        `xml:"移交登记表"`
	Version      string          `xml:"版本,attr"`
	PackageID    string          `xml:"交接工作名称"`
	Transferring string          `xml:"移交单位"`
	Receiving    string          `xml:"接收单位,omitempty"`
	Fonds        string          `xml:"全宗号"`
	Time         string          `xml:"移交时间"`
	Content      string          `xml:"内容描述"`
	Count        string          `xml:"移交电子档案数量"`
	Bytes        string          `xml:"移交数据量"`
	Range        string          `xml:"起止档号"`
	Carrier      string          `xml:"载体类型"`
	Digest       RegisterDigest  `xml:"数字摘要"`
	Checks       []RegisterCheck `xml:"移交前检测>项目"`
	Signature    RegisterSig     `xml:"签名"`
}

// RegisterDigest is the package digest (see PackageDigest).
type RegisterDigest struct {
	Algorithm string `xml:"算法,attr"`
	Scope     string `xml:"范围,attr"`
	Value     string `xml:",chardata"`
}

// RegisterCheck is one summary row of the checks run before transfer.
type RegisterCheck struct {
	Property string `xml:"性质,attr"`
	Check    string `xml:"标识,attr"`
	Item     string `xml:"项目,attr"`
	Result   string `xml:"结果,attr"`
	Detail   string `xml:",chardata"`
}

// RegisterSig says how the register is signed.
type RegisterSig struct {
	Algorithm string `xml:"算法,attr"`
	File      string `xml:"签名文件,attr"`
	Cert      string `xml:"证书文件,attr"`
}

func marshalXML(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// unmarshalXML decodes strictly enough for our files: one root element, the
// expected one. encoding/xml expands no external entities.
func unmarshalXML(b []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	return d.Decode(v)
}
