// PdfBoxDocTimeStamp adds a document timestamp the way another system
// does it: Apache PDFBox 2 writes the revision with a signature dictionary
// /Type /DocTimeStamp /SubFilter /ETSI.RFC3161, and Bouncy Castle's
// TimeStampTokenGenerator, acting as the TSA, makes the RFC 3161 token:
// imprint SHA-256 of the bytes the /ByteRange covers, signed SM2 with SM3
// (default user id), ESS signing-certificate-v2, the TSA certificate and
// its root embedded.
//
//   javac -cp pdfbox2.jar:fontbox2.jar:commons-logging.jar:bcprov.jar:bcpkix.jar:bcutil.jar -d OUT PdfBoxDocTimeStamp.java
//   java -cp OUT:... PdfBoxDocTimeStamp IN.pdf OUT.pdf ROOT.pem
//
// The TSA is made fresh: a root CA and a TSA certificate (extended key
// usage timeStamping, critical). ROOT.pem receives the root, for the
// verifier to trust. Prints "OK".

import java.io.File;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Security;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.Calendar;
import java.util.Date;

import org.apache.pdfbox.cos.COSName;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.interactive.digitalsignature.PDSignature;
import org.apache.pdfbox.pdmodel.interactive.digitalsignature.SignatureInterface;
import org.apache.pdfbox.pdmodel.interactive.digitalsignature.SignatureOptions;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.cms.jcajce.JcaSignerInfoGeneratorBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.tsp.TSPAlgorithms;
import org.bouncycastle.tsp.TimeStampRequest;
import org.bouncycastle.tsp.TimeStampRequestGenerator;
import org.bouncycastle.tsp.TimeStampToken;
import org.bouncycastle.tsp.TimeStampTokenGenerator;
import org.bouncycastle.util.CollectionStore;

public class PdfBoxDocTimeStamp {
    static X509CertificateHolder issue(X500Name subject, PublicKey pub, X500Name issuer, PrivateKey issuerKey,
            long serial, long now, boolean ca) throws Exception {
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(serial),
                new Date(now - 3600_000L), new Date(now + 86_400_000L), subject, pub);
        if (ca) {
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        } else {
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, true, new ExtendedKeyUsage(KeyPurposeId.id_kp_timeStamping));
        }
        return b.build(new JcaContentSignerBuilder("SM3withSM2").setProvider("BC").build(issuerKey));
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: PdfBoxDocTimeStamp IN.pdf OUT.pdf ROOT.pem");
            System.exit(2);
        }
        Security.addProvider(new BouncyCastleProvider());
        KeyPairGenerator kpg = KeyPairGenerator.getInstance("EC", "BC");
        kpg.initialize(new ECGenParameterSpec("sm2p256v1"));
        KeyPair rootKey = kpg.generateKeyPair(), tsaKey = kpg.generateKeyPair();
        long now = System.currentTimeMillis();
        X500Name rootName = new X500Name("CN=Bouncy Castle test TSA root, O=Another system");
        X500Name tsaName = new X500Name("CN=Bouncy Castle test TSA, O=Another system");
        X509CertificateHolder root = issue(rootName, rootKey.getPublic(), rootName, rootKey.getPrivate(), now, now, true);
        X509CertificateHolder tsa = issue(tsaName, tsaKey.getPublic(), rootName, rootKey.getPrivate(), now + 1, now, false);
        String pem = "-----BEGIN CERTIFICATE-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(root.getEncoded())
                + "\n-----END CERTIFICATE-----\n";
        Files.write(Paths.get(args[2]), pem.getBytes(StandardCharsets.US_ASCII));

        SignatureInterface stamper = (InputStream content) -> {
            try {
                byte[] digest = MessageDigest.getInstance("SHA-256").digest(content.readAllBytes());
                TimeStampTokenGenerator gen = new TimeStampTokenGenerator(
                        new JcaSignerInfoGeneratorBuilder(new JcaDigestCalculatorProviderBuilder().setProvider("BC").build())
                                .build(new JcaContentSignerBuilder("SM3withSM2").setProvider("BC").build(tsaKey.getPrivate()), tsa),
                        new JcaDigestCalculatorProviderBuilder().setProvider("BC").build()
                                .get(new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha256)),
                        new ASN1ObjectIdentifier("1.2.3.4.1"));
                gen.addCertificates(new CollectionStore<>(Arrays.asList(tsa, root)));
                TimeStampRequestGenerator reqGen = new TimeStampRequestGenerator();
                reqGen.setCertReq(true);
                TimeStampRequest req = reqGen.generate(TSPAlgorithms.SHA256, digest, BigInteger.valueOf(now));
                TimeStampToken tok = gen.generate(req, BigInteger.valueOf(now), new Date());
                return tok.getEncoded();
            } catch (Exception e) {
                throw new java.io.IOException(e);
            }
        };

        try (PDDocument doc = PDDocument.load(new File(args[0]));
             FileOutputStream out = new FileOutputStream(args[1])) {
            PDSignature sig = new PDSignature();
            sig.setType(COSName.DOC_TIME_STAMP);
            sig.setFilter(PDSignature.FILTER_ADOBE_PPKLITE);
            sig.setSubFilter(COSName.getPDFName("ETSI.RFC3161"));
            SignatureOptions opts = new SignatureOptions();
            opts.setPreferredSignatureSize(8192);
            doc.addSignature(sig, stamper, opts);
            doc.saveIncremental(out);
        }
        System.out.println("OK");
    }
}
