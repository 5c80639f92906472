// VerifyPdfCms is the outside check of our PDF signatures: Bouncy Castle,
// not our code, verifies the CMS SignedData in every signature of a PDF
// (SM2 with SM3 and the default user id 1234567812345678, which is what
// BC does for 1.2.156.10197.1.501).
//
//   javac -cp bcprov.jar:bcpkix.jar:bcutil.jar -d OUT VerifyPdfCms.java
//   java -cp OUT:bcprov.jar:bcpkix.jar:bcutil.jar VerifyPdfCms FILE.pdf...
//   java -cp ... VerifyPdfCms --self-test
//
// For each signature, in file order, it prints "OK <file> <n>" or
// "FAIL <file> <n> <reason>" (n from 1; n = 0 when a file has none) and
// exits 1 if anything failed. Signatures are found by scanning the bytes
// for "/ByteRange [0 a b c]": /Contents is then the hex string from offset
// a to b, as ISO 32000-1 §12.8.1 defines it. That is enough for the files
// eseal writes; it is not a general PDF parser.
//
// --self-test signs a synthetic file with a BC-generated SM2 key and checks
// that the good signature passes and a flipped byte fails, so the checker
// itself is known to work before any eseal output exists.

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Security;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import java.util.Arrays;

import org.bouncycastle.asn1.cms.Attribute;
import org.bouncycastle.asn1.cms.AttributeTable;
import org.bouncycastle.asn1.cms.CMSAttributes;
import org.bouncycastle.asn1.ess.ESSCertIDv2;
import org.bouncycastle.asn1.ess.SigningCertificateV2;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.DigestCalculator;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.CMSSignedDataGenerator;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.SignerInformationVerifier;
import org.bouncycastle.cms.jcajce.JcaSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.util.Store;
import org.bouncycastle.util.encoders.Hex;

public final class VerifyPdfCms {
    private static final Pattern BYTE_RANGE =
            Pattern.compile("/ByteRange\\s*\\[\\s*(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s*\\]");

    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        if (args.length == 1 && args[0].equals("--self-test")) {
            System.exit(selfTest());
        }
        if (args.length == 0) {
            System.err.println("usage: VerifyPdfCms FILE.pdf... | --self-test");
            System.exit(2);
        }
        int failures = 0;
        for (String file : args) {
            failures += verifyFile(file, Files.readAllBytes(Paths.get(file)));
        }
        System.exit(failures == 0 ? 0 : 1);
    }

    /** Checks every signature of one file, prints a line for each, returns the number of failures. */
    static int verifyFile(String name, byte[] pdf) {
        Matcher m = BYTE_RANGE.matcher(new String(pdf, StandardCharsets.ISO_8859_1));
        int n = 0;
        int failures = 0;
        while (m.find()) {
            n++;
            try {
                long[] br = new long[4];
                for (int i = 0; i < 4; i++) {
                    br[i] = Long.parseLong(m.group(i + 1));
                }
                String attrs = verifySignature(pdf, br);
                System.out.println("OK " + name + " " + n);
                System.out.println("ATTRS " + name + " " + n + " " + attrs);
            } catch (Exception e) {
                failures++;
                System.out.println("FAIL " + name + " " + n + " " + e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
        if (n == 0) {
            System.out.println("FAIL " + name + " 0 no /ByteRange found");
            failures++;
        }
        return failures;
    }

    /**
     * Verifies one signature and returns what PAdES looks for in its signed
     * attributes: "signing-certificate-v2=yes|no signing-time=yes|no", the
     * former only "yes" when the ESS certificate hash is the signer's.
     */
    static String verifySignature(byte[] pdf, long[] br) throws Exception {
        long a = br[1], b = br[2], c = br[3];
        if (br[0] != 0 || a <= 0 || b <= a + 1 || c < 0 || b + c > pdf.length) {
            throw new IllegalArgumentException("bad /ByteRange [" + br[0] + " " + a + " " + b + " " + c + "] for " + pdf.length + " bytes");
        }
        if (pdf[(int) a] != '<' || pdf[(int) b - 1] != '>') {
            throw new IllegalArgumentException("/ByteRange gap is not the /Contents hex string");
        }
        byte[] covered = new byte[(int) (a + c)];
        System.arraycopy(pdf, 0, covered, 0, (int) a);
        System.arraycopy(pdf, (int) b, covered, (int) a, (int) c);

        String hex = new String(pdf, (int) a + 1, (int) (b - a - 2), StandardCharsets.ISO_8859_1).replaceAll("\\s", "");
        byte[] der = trimDER(Hex.decode(hex));

        CMSSignedData cms = new CMSSignedData(new CMSProcessableByteArray(covered), der);
        Store<X509CertificateHolder> certs = cms.getCertificates();
        Collection<SignerInformation> signers = cms.getSignerInfos().getSigners();
        if (signers.isEmpty()) {
            throw new IllegalArgumentException("no SignerInfo");
        }
        for (SignerInformation si : signers) {
            Collection<X509CertificateHolder> match = certs.getMatches(si.getSID());
            if (match.isEmpty()) {
                throw new IllegalArgumentException("signer certificate not in the CMS");
            }
            X509CertificateHolder cert = match.iterator().next();
            SignerInformationVerifier v = new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(cert);
            if (!si.verify(v)) {
                throw new SecurityException("signature does not verify (digest " + si.getDigestAlgOID()
                        + ", signature " + si.getEncryptionAlgOID() + ")");
            }
            AttributeTable signed = si.getSignedAttributes();
            boolean essV2 = false;
            Attribute ess = signed == null ? null : signed.get(PKCSObjectIdentifiers.id_aa_signingCertificateV2);
            if (ess != null) {
                ESSCertIDv2 id = SigningCertificateV2.getInstance(ess.getAttrValues().getObjectAt(0)).getCerts()[0];
                DigestCalculator dc = new JcaDigestCalculatorProviderBuilder().setProvider("BC").build().get(id.getHashAlgorithm());
                dc.getOutputStream().write(cert.getEncoded());
                dc.getOutputStream().close();
                essV2 = Arrays.equals(dc.getDigest(), id.getCertHash());
            }
            boolean signingTime = signed != null && signed.get(CMSAttributes.signingTime) != null;
            return "signing-certificate-v2=" + (essV2 ? "yes" : "no") + " signing-time=" + (signingTime ? "yes" : "no");
        }
        throw new IllegalArgumentException("no SignerInfo");
    }

    /** Drops the zero padding after the DER SEQUENCE that fills the /Contents placeholder. */
    static byte[] trimDER(byte[] b) {
        if (b.length < 2 || b[0] != 0x30) {
            throw new IllegalArgumentException("/Contents is not a DER SEQUENCE");
        }
        int len = b[1] & 0xff, hdr = 2;
        if (len > 0x80) {
            int k = len & 0x7f;
            if (k > 4 || 2 + k > b.length) {
                throw new IllegalArgumentException("bad DER length");
            }
            len = 0;
            for (int i = 0; i < k; i++) {
                len = (len << 8) | (b[2 + i] & 0xff);
            }
            hdr += k;
        } else if (len == 0x80) {
            return b; // indefinite length (BER): let BC find the end
        }
        if (hdr + len > b.length) {
            throw new IllegalArgumentException("DER longer than /Contents");
        }
        byte[] out = new byte[hdr + len];
        System.arraycopy(b, 0, out, 0, out.length);
        return out;
    }

    /** Signs a synthetic file with SM2/SM3 the way eseal lays it out, then checks good and tampered copies. */
    static int selfTest() throws Exception {
        KeyPairGenerator kpg = KeyPairGenerator.getInstance("EC", "BC");
        kpg.initialize(new ECGenParameterSpec("sm2p256v1"));
        KeyPair kp = kpg.generateKeyPair();
        X500Name dn = new X500Name("CN=VerifyPdfCms self-test,O=eseal");
        Date now = new Date();
        ContentSigner signer = new JcaContentSignerBuilder("SM3withSM2").setProvider("BC").build(kp.getPrivate());
        X509CertificateHolder cert = new JcaX509v3CertificateBuilder(dn, BigInteger.ONE,
                new Date(now.getTime() - 3600_000L), new Date(now.getTime() + 3600_000L), dn, kp.getPublic()).build(signer);

        String placeholder = "0".repeat(8192);
        String head = "%PDF-1.7\n1 0 obj\n<< /Type /Sig /ByteRange [0 0000000000 0000000000 0000000000] /Contents <";
        String tail = "> >>\nendobj\ntrailer\n<< >>\n%%EOF\n";
        byte[] pdf = (head + placeholder + tail).getBytes(StandardCharsets.ISO_8859_1);
        int a = head.length() - 1, b = a + placeholder.length() + 2, c = pdf.length - b;
        String br = String.format("[0 %010d %010d %010d]", a, b, c);
        int brAt = head.indexOf("[0 ");
        System.arraycopy(br.getBytes(StandardCharsets.ISO_8859_1), 0, pdf, brAt, br.length());

        byte[] covered = new byte[a + c];
        System.arraycopy(pdf, 0, covered, 0, a);
        System.arraycopy(pdf, b, covered, a, c);
        CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
        gen.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(
                new JcaDigestCalculatorProviderBuilder().setProvider("BC").build()).build(
                new JcaContentSignerBuilder("SM3withSM2").setProvider("BC").build(kp.getPrivate()), cert));
        gen.addCertificate(cert);
        byte[] der = gen.generate(new CMSProcessableByteArray(covered), false).getEncoded();
        byte[] hex = Hex.toHexString(der).getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(hex, 0, pdf, a + 1, hex.length);

        int bad = 0;
        if (verifyFile("self-test-good", pdf) != 0) {
            bad++;
        }
        List<Integer> flips = new ArrayList<>(List.of(5, brAt + 5, a - 1, b + 3, pdf.length - 2));
        for (int at : flips) {
            byte[] t = pdf.clone();
            t[at] ^= 0x01;
            if (verifyFile("self-test-flip@" + at, t) == 0) {
                System.out.println("FAIL self-test: a flipped byte at " + at + " still verifies");
                bad++;
            }
        }
        System.out.println(bad == 0 ? "SELFTEST OK" : "SELFTEST FAIL");
        return bad == 0 ? 0 : 1;
    }
}
