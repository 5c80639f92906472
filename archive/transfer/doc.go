// Package transfer builds the packages in which records move from the office
// to the archive (移交, DA/T 93-2022) and runs the four-property check
// (四性检测, DA/T 70-2018) on them, before transfer and on receipt.
//
// # The package
//
// A package is a ZIP file that is at once a BagIt bag (RFC 8493) and laid
// out as DA/T 93 asks. Every entry lies under one top directory named by the
// package id (FONDS-YYYYMMDDTHHMMSSZ unless given):
//
//	ID/bagit.txt                    BagIt-Version: 1.0, UTF-8
//	ID/bag-info.txt                 Source-Organization, Bagging-Date, External-Identifier,
//	                                Payload-Oxum (octets.files of data/), Bag-Size …
//	ID/manifest-sha256.txt          "digest path" for every file under data/
//	ID/manifest-sm3.txt             the same with SM3 (GB/T 32905)
//	ID/tagmanifest-sha256.txt       over bagit.txt, bag-info.txt and both manifests
//	ID/tagmanifest-sm3.txt
//	ID/data/description.xml         说明文件 (Description)
//	ID/data/catalogue.xml           目录文件 (Catalogue): one 条目 per item
//	ID/data/REF/REF.pdf             the signed PDF, stored uncompressed
//	ID/data/REF/REF.xml             its metadata with DA/T 46 element names (Metadata)
//	ID/data/REF/evidence/AZ/...     each seal's authorization evidence: grant.bin,
//	                                signature.der, certificate.pem (see evidence.go)
//	ID/data/register/register.xml   移交登记表 (Register)
//	ID/data/register/register.sig   SM2 signature (ASN.1 DER, SM3, user id 1234567812345678)
//	                                over the exact bytes of register.xml
//	ID/data/register/signer.pem     the signer's certificate, then its chain
//
// REF is the item's reference code (档号, see Rule). The register states the
// item count, the bytes of all item files (移交数据量), the first and last
// reference codes, the results of the checks run while packing and the
// package digest: SM3 over "sm3hex path\n" lines of every payload file
// outside data/register/, sorted by path (PackageDigest). Signing the
// register thus signs every item, the catalogue and the description.
//
// File names are ASCII so that any unzip tool restores them; the Chinese is
// inside the XML (UTF-8). PDFs are stored, not deflated, so a checker can
// read them in place.
//
// # The check
//
// Check reads a package (bounded: entry count, sizes, compression ratio;
// names that leave the bag, duplicates and case collisions are refused
// before anything is read) and reports, per check item of Items, pass, warn,
// fail or manual, with one row per finding. A check that did not run is
// never "pass": without a scanner the virus check is "manual", without an
// audit log the process check is "manual", without a verifier the
// signatures are "manual".
//
// The package imports neither seal nor keys: signature verification, SM2
// signing and certificate trust come in as functions (VerifyFunc, SignFunc,
// CheckOptions.VerifySig, CheckOptions.VerifyEvidence, Options.Evidence).
package transfer
