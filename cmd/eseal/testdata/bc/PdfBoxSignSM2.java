// PdfBoxSignSM2 signs a PDF the way another SM2 system does it: Apache
// PDFBox 2 writes the incremental update and the signature dictionary
// (adbe.pkcs7.detached), Bouncy Castle makes the CMS SignedData with SM2
// and SM3 (default user id 1234567812345678) and encodes it as Bouncy
// Castle does by default — BER, with indefinite lengths outside the signed
// attributes, as RFC 5652 allows.
//
//   javac -cp pdfbox2.jar:fontbox2.jar:commons-logging.jar:bcprov.jar:bcpkix.jar:bcutil.jar -d OUT PdfBoxSignSM2.java
//   java -cp OUT:... PdfBoxSignSM2 IN.pdf OUT.pdf
//
// The signer is a fresh key with a self-signed certificate: no trust in it
// is claimed, and the document carries no GB/T 38540 seal. It prints
// "BER" when the CMS it wrote is not DER (so the test knows what it
// checks), then "OK".

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Security;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import java.util.Calendar;
import java.util.Date;

import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.interactive.digitalsignature.PDSignature;
import org.apache.pdfbox.pdmodel.interactive.digitalsignature.SignatureInterface;
import org.apache.pdfbox.pdmodel.interactive.digitalsignature.SignatureOptions;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.CMSSignedDataGenerator;
import org.bouncycastle.cms.jcajce.JcaSignerInfoGeneratorBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.util.Store;
import org.bouncycastle.cert.jcajce.JcaCertStore;

public class PdfBoxSignSM2 {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: PdfBoxSignSM2 IN.pdf OUT.pdf");
            System.exit(2);
        }
        Security.addProvider(new BouncyCastleProvider());
        KeyPairGenerator kpg = KeyPairGenerator.getInstance("EC", "BC");
        kpg.initialize(new ECGenParameterSpec("sm2p256v1"));
        KeyPair kp = kpg.generateKeyPair();
        long now = System.currentTimeMillis();
        X500Name name = new X500Name("CN=PDFBox SM2 signer, O=Another system");
        ContentSigner certSigner = new JcaContentSignerBuilder("SM3withSM2").setProvider("BC").build(kp.getPrivate());
        X509CertificateHolder cert = new JcaX509v3CertificateBuilder(name, BigInteger.valueOf(now), new Date(now - 3600_000L),
                new Date(now + 86_400_000L), name, kp.getPublic()).build(certSigner);

        boolean[] ber = {false};
        SignatureInterface signer = (InputStream content) -> {
            try {
                byte[] data = content.readAllBytes();
                CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
                ContentSigner cs = new JcaContentSignerBuilder("SM3withSM2").setProvider("BC").build(kp.getPrivate());
                gen.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(
                        new JcaDigestCalculatorProviderBuilder().setProvider("BC").build()).build(cs, cert));
                gen.addCertificates(new org.bouncycastle.util.CollectionStore<>(Arrays.asList(cert)));
                CMSSignedData sd = gen.generate(new CMSProcessableByteArray(data), false);
                byte[] enc = sd.getEncoded(); // Bouncy Castle's default: BER
                ber[0] = !Arrays.equals(enc, sd.getEncoded(ASN1Encoding.DER));
                return enc;
            } catch (Exception e) {
                throw new java.io.IOException(e);
            }
        };

        try (PDDocument doc = PDDocument.load(new File(args[0]));
             FileOutputStream out = new FileOutputStream(args[1])) {
            PDSignature sig = new PDSignature();
            sig.setFilter(PDSignature.FILTER_ADOBE_PPKLITE);
            sig.setSubFilter(PDSignature.SUBFILTER_ADBE_PKCS7_DETACHED);
            sig.setName("PDFBox SM2 signer");
            sig.setReason("signed by another system");
            Calendar cal = Calendar.getInstance();
            cal.setTimeInMillis(now);
            sig.setSignDate(cal);
            SignatureOptions opts = new SignatureOptions();
            opts.setPreferredSignatureSize(8192);
            doc.addSignature(sig, signer, opts);
            doc.saveIncremental(out);
        }
        if (ber[0]) {
            System.out.println("BER");
        }
        System.out.println("OK");
    }
}
